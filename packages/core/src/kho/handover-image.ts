import type { PhysicalMemory } from "../hw/physical-memory.js";
import type { PhysAddr, PhysRange } from "../hw/units.js";
import type { BootData } from "../kernel/boot-data.js";
import type { FdtTree } from "./fdt/tree.js";
import {
  type RetrievedSubtree,
  readIncomingMemoryMap,
  readRootFdt,
  readScratchAreas,
  readSubtree,
} from "./incoming.js";
import type { IncomingMemoryMap } from "./memory-map-reader.js";

/**
 * A kho-v1 handover as found in physical memory, read without booting a kernel: what the next
 * kernel's early boot would validate and its drivers would retrieve.
 */
export interface KhoHandoverImage {
  /** The boot data it was read from. */
  readonly bootData: BootData;
  /** The scratch areas (`kho_scratch` array). */
  readonly scratch: readonly PhysRange[];
  /** The root FDT at `fdt_addr`. */
  readonly root: FdtTree;
  /** The preserved-memory map: folios per order, merged ranges, chunk pages. */
  readonly memoryMap: IncomingMemoryMap;
  /** Every subtree of the root, in FDT order, with its blob parsed. */
  readonly subtrees: readonly RetrievedSubtree[];
  /** Whether every byte of `[phys, phys + size)` is preserved. */
  isPreserved(phys: PhysAddr, size: number): boolean;
}

/**
 * Reads and validates the kho-v1 handover that `bootData` points at, with the same checks as the
 * next kernel's boot (scratch array, root FDT, memory map, each subtree blob in preserved memory),
 * but without a kernel: for tools that inspect a memory image offline (`liveupdate inspect`).
 *
 * @param memory - the machine's memory, e.g. from {@link openMemoryImage}.
 * @param bootData - the x86 `kho_data` the outgoing kernel passed.
 * @throws {@link KhoCorruptHandoverError} (boot data, scratch, root FDT, memory map) or
 *   {@link KhoBadSubtreeError} (a subtree blob), naming the structure, the field and the address.
 */
export function readKhoHandover(memory: PhysicalMemory, bootData: BootData): KhoHandoverImage {
  const scratch = readScratchAreas(memory, bootData);
  const root = readRootFdt(memory, bootData, scratch);
  const memoryMap = readIncomingMemoryMap(memory, root, scratch);
  const ranges = memoryMap.ranges;
  const isPreserved = (phys: PhysAddr, size: number): boolean => {
    if (!Number.isSafeInteger(phys) || !Number.isSafeInteger(size) || size <= 0) return false;
    const r = ranges.find((range) => phys >= range.base && phys < range.base + range.size);
    return r !== undefined && phys + size <= r.base + r.size;
  };
  const subtrees = root.root.children.map((node) => readSubtree(memory, node, isPreserved));
  return { bootData, scratch, root, memoryMap, subtrees, isPreserved };
}
