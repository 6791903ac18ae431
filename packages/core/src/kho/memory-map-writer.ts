import type { PhysicalMemory } from "../hw/physical-memory.js";
import { PAGE_SIZE, type PhysAddr } from "../hw/units.js";
import { bitmapSpan, KHOSER_BITMAP_SIZE, KHOSER_MEM_BITMAP_PTR, KHOSER_MEM_CHUNK_HDR } from "./abi.js";
import type { PreservationTracker } from "./tracker.js";

/** The serialized memory map: first chunk (0 when empty) and every chunk page written. */
export interface SerializedMemoryMap {
  /** Physical address of the first `khoser_mem_chunk`, or 0. */
  readonly firstChunk: PhysAddr;
  /** Every chunk page, in list order. */
  readonly chunkPages: readonly PhysAddr[];
}

/**
 * Writes the kho-v1 memory map (mirrors `kho_mem_serialize`): for each order ascending a new
 * chunk, then one `{phys_start, bitmap}` entry per bitmap ascending, chaining a further chunk of
 * the same order every 255 entries.
 */
export function writeMemoryMap(
  tracker: PreservationTracker,
  memory: PhysicalMemory,
  allocPage: () => PhysAddr,
  chunkPages: PhysAddr[] = [],
): SerializedMemoryMap {
  let chunk = 0;
  let chunkOrder = -1;
  let count = 0;
  const startChunk = (order: number): void => {
    const page = allocPage();
    memory.fill(page, PAGE_SIZE, 0);
    if (chunk !== 0) memory.writeU64(chunk + KHOSER_MEM_CHUNK_HDR.next, BigInt(page));
    memory.writeU32(page + KHOSER_MEM_CHUNK_HDR.order, order);
    chunkPages.push(page);
    chunk = page;
    chunkOrder = order;
    count = 0;
  };
  for (const { order, index, phys } of tracker.bitmaps()) {
    if (order !== chunkOrder || count === KHOSER_BITMAP_SIZE) startChunk(order);
    const entry = chunk + KHOSER_MEM_CHUNK_HDR.size + count * KHOSER_MEM_BITMAP_PTR.size;
    memory.writeU64(entry + KHOSER_MEM_BITMAP_PTR.physStart, BigInt(index * bitmapSpan(order)));
    memory.writeU64(entry + KHOSER_MEM_BITMAP_PTR.bitmap, BigInt(phys));
    count++;
    memory.writeU32(chunk + KHOSER_MEM_CHUNK_HDR.numElms, count);
  }
  return { firstChunk: chunkPages[0] ?? 0, chunkPages };
}
