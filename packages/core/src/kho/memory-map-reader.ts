import type { PhysicalMemory } from "../hw/physical-memory.js";
import { PAGE_SIZE, type PhysAddr, type PhysRange } from "../hw/units.js";
import { MAX_PAGE_ORDER } from "../kernel/buddy.js";
import { overlapsAny } from "../kernel/ranges.js";
import {
  bitmapSpan,
  KHO_MEM_PHYS_BITS_SIZE,
  KHOSER_BITMAP_SIZE,
  KHOSER_MEM_BITMAP_PTR,
  KHOSER_MEM_CHUNK_HDR,
  PRESERVE_BITS,
} from "./abi.js";
import { KhoCorruptHandoverError } from "./errors.js";

/** What the incoming kernel learned from the memory map. */
export interface IncomingMemoryMap {
  /** Copies of the bitmaps, per order then index (the originals live in memory about to be reused). */
  readonly bitmaps: ReadonlyMap<number, ReadonlyMap<number, Uint8Array>>;
  /** Preserved memory as sorted, disjoint, merged ranges (what memblock must reserve). */
  readonly ranges: readonly PhysRange[];
  /** Preserved folios per order (index = order). */
  readonly folioCounts: readonly number[];
  /** Total preserved bytes. */
  readonly preservedBytes: number;
  /** Chunk pages walked. */
  readonly chunks: readonly PhysAddr[];
}

/** Checks the reader applies to every address it follows. */
export interface MemoryMapConstraints {
  /** True when `[phys, phys + size)` is RAM. */
  isRam(phys: PhysAddr, size: number): boolean;
  /** Scratch areas: nothing preserved may be there, and metadata must not be there either. */
  readonly scratch: readonly PhysRange[];
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Reads and validates the kho-v1 memory map (mirrors `kho_mem_deserialize` + `deserialize_bitmap`,
 * but trusts nothing): chunk and bitmap addresses must be RAM outside scratch, orders ≤ 10, counts
 * ≤ 255, `phys_start` must match a bitmap window, the chunk list must end (no cycle), no bitmap may
 * be listed twice, and no two preserved folios may overlap.
 *
 * @throws {@link KhoCorruptHandoverError} naming the structure, field and address.
 */
export function readMemoryMap(
  memory: PhysicalMemory,
  firstChunk: bigint,
  constraints: MemoryMapConstraints,
): IncomingMemoryMap {
  const bitmaps = new Map<number, Map<number, Uint8Array>>();
  const folioCounts: number[] = new Array(MAX_PAGE_ORDER + 1).fill(0);
  const runs: Array<{ base: number; size: number; order: number }> = [];
  const chunks: PhysAddr[] = [];
  const visited = new Set<number>();
  const maxChunks = Math.ceil(memory.map.end() / PAGE_SIZE);

  let next = firstChunk;
  let previous: PhysAddr | undefined;
  while (next !== 0n) {
    const chunk = checkMetadataAddress(
      next,
      PAGE_SIZE,
      PAGE_SIZE,
      constraints,
      "khoser_mem_chunk",
      "next",
      previous,
    );
    if (visited.has(chunk) || chunks.length >= maxChunks) {
      throw new KhoCorruptHandoverError("khoser_mem_chunk", "next", "the chunk list loops", {
        phys: chunk,
        previous,
      });
    }
    visited.add(chunk);
    chunks.push(chunk);
    const header = memory.read(chunk, PAGE_SIZE);
    const view = new DataView(header.buffer);
    const order = view.getUint32(KHOSER_MEM_CHUNK_HDR.order, true);
    const count = view.getUint32(KHOSER_MEM_CHUNK_HDR.numElms, true);
    if (order > MAX_PAGE_ORDER) {
      throw new KhoCorruptHandoverError("khoser_mem_chunk", "order", `order ${order} > ${MAX_PAGE_ORDER}`, {
        phys: chunk,
        value: order,
      });
    }
    if (count > KHOSER_BITMAP_SIZE) {
      throw new KhoCorruptHandoverError("khoser_mem_chunk", "num_elms", `${count} > ${KHOSER_BITMAP_SIZE}`, {
        phys: chunk,
        value: count,
      });
    }
    let orderBitmaps = bitmaps.get(order);
    if (orderBitmaps === undefined) {
      orderBitmaps = new Map();
      bitmaps.set(order, orderBitmaps);
    }
    const span = bitmapSpan(order);
    for (let i = 0; i < count; i++) {
      const entry = KHOSER_MEM_CHUNK_HDR.size + i * KHOSER_MEM_BITMAP_PTR.size;
      const physStart = view.getBigUint64(entry + KHOSER_MEM_BITMAP_PTR.physStart, true);
      const where = { phys: chunk, index: i, value: physStart };
      if (physStart > MAX_SAFE || Number(physStart) % span !== 0) {
        throw new KhoCorruptHandoverError(
          "khoser_mem_bitmap_ptr",
          "phys_start",
          `not a multiple of ${span}`,
          where,
        );
      }
      const index = Number(physStart) / span;
      if (orderBitmaps.has(index)) {
        throw new KhoCorruptHandoverError(
          "khoser_mem_bitmap_ptr",
          "phys_start",
          "bitmap listed twice",
          where,
        );
      }
      const bitmapPhys = checkMetadataAddress(
        view.getBigUint64(entry + KHOSER_MEM_BITMAP_PTR.bitmap, true),
        KHO_MEM_PHYS_BITS_SIZE,
        8,
        constraints,
        "khoser_mem_bitmap_ptr",
        "bitmap",
        chunk,
      );
      const bits = memory.read(bitmapPhys, KHO_MEM_PHYS_BITS_SIZE);
      orderBitmaps.set(index, bits);
      folioCounts[order]! += collectRuns(bits, index, order, runs);
    }
    previous = chunk;
    next = view.getBigUint64(KHOSER_MEM_CHUNK_HDR.next, true);
  }

  runs.sort((a, b) => a.base - b.base);
  const ranges: Array<{ base: number; size: number }> = [];
  let preservedBytes = 0;
  let previousRun: { base: number; size: number; order: number } | undefined;
  for (const run of runs) {
    if (!constraints.isRam(run.base, run.size)) {
      throw new KhoCorruptHandoverError("kho_mem_phys_bits", "bit", "preserved folio outside RAM", {
        phys: run.base,
        order: run.order,
      });
    }
    if (overlapsAny(run.base, run.size, constraints.scratch)) {
      throw new KhoCorruptHandoverError("kho_mem_phys_bits", "bit", "preserved folio inside scratch", {
        phys: run.base,
        order: run.order,
      });
    }
    if (previousRun !== undefined && run.base < previousRun.base + previousRun.size) {
      throw new KhoCorruptHandoverError(
        "kho_mem_phys_bits",
        "bit",
        "preserved folios of different orders overlap",
        {
          phys: run.base,
          order: run.order,
          otherOrder: previousRun.order,
        },
      );
    }
    previousRun = run;
    preservedBytes += run.size;
    const last = ranges[ranges.length - 1];
    if (last !== undefined && last.base + last.size === run.base) last.size += run.size;
    else ranges.push({ base: run.base, size: run.size });
  }
  return { bitmaps, ranges, folioCounts, preservedBytes, chunks };
}

/** Appends runs of consecutive set bits as physical ranges; returns the number of set bits. */
export function collectRuns(
  bits: Uint8Array,
  index: number,
  order: number,
  runs: Array<{ base: number; size: number; order: number }>,
): number {
  const folioBytes = PAGE_SIZE * (1 << order);
  const windowBase = index * PRESERVE_BITS;
  let count = 0;
  let runStart = -1;
  for (let bit = 0; bit <= PRESERVE_BITS; bit++) {
    const set = bit < PRESERVE_BITS && (bits[bit >>> 3]! & (1 << (bit & 7))) !== 0;
    if (set) {
      count++;
      if (runStart < 0) runStart = bit;
    } else if (runStart >= 0) {
      runs.push({ base: (windowBase + runStart) * folioBytes, size: (bit - runStart) * folioBytes, order });
      runStart = -1;
    }
    // Skip empty bytes quickly.
    if (runStart < 0 && (bit & 7) === 0 && bit < PRESERVE_BITS && bits[bit >>> 3] === 0) bit += 7;
  }
  return count;
}

function checkMetadataAddress(
  value: bigint,
  size: number,
  align: number,
  constraints: MemoryMapConstraints,
  structure: string,
  field: string,
  referencedFrom: PhysAddr | undefined,
): PhysAddr {
  const context = { value, referencedFrom };
  if (value > MAX_SAFE) throw new KhoCorruptHandoverError(structure, field, "address beyond 2^53", context);
  const phys = Number(value);
  if (phys % align !== 0)
    throw new KhoCorruptHandoverError(structure, field, `address not ${align}-byte aligned`, context);
  if (!constraints.isRam(phys, size))
    throw new KhoCorruptHandoverError(structure, field, "address outside RAM", context);
  if (overlapsAny(phys, size, constraints.scratch)) {
    throw new KhoCorruptHandoverError(
      structure,
      field,
      "address inside scratch (already overwritten)",
      context,
    );
  }
  return phys;
}
