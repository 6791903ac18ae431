import type { PhysicalMemory } from "../hw/physical-memory.js";
import { PAGE_SIZE, type PhysAddr, type PhysRange } from "../hw/units.js";
import type { BootData } from "../kernel/boot-data.js";
import { MAX_PAGE_ORDER } from "../kernel/buddy.js";
import type { Kernel } from "../kernel/kernel.js";
import { overlapsAny } from "../kernel/ranges.js";
import {
  KHO_FDT_COMPATIBLE,
  KHO_SCRATCH,
  KHO_VMALLOC_ALLOC,
  KHO_VMALLOC_CHUNK,
  KHO_VMALLOC_HUGE_VMAP,
  PRESERVE_BITS,
  PROP_PRESERVED_MEMORY_MAP,
  PROP_SUBTREE_FDT,
} from "./abi.js";
import {
  KhoAlreadyRestoredError,
  KhoBadArgumentError,
  KhoBadSubtreeError,
  KhoCorruptHandoverError,
  KhoNotPreservedError,
  KhoSubtreeNotFoundError,
  KhoVmallocError,
} from "./errors.js";
import { FDT_MAGIC } from "./fdt/abi.js";
import { decodeFdt } from "./fdt/parser.js";
import type { FdtNode, FdtTree } from "./fdt/tree.js";
import { type IncomingMemoryMap, readMemoryMap } from "./memory-map-reader.js";
import { splitIntoFolios } from "./outgoing.js";
import { decodeVmallocDescriptor, type KhoVmallocDescriptor, type VmallocArea } from "./vmalloc.js";

/** Most scratch areas a handover may describe (lowmem + global + up to 62 nodes). */
const MAX_SCRATCH_AREAS = 64;
/** Largest root FDT we agree to read. */
const MAX_ROOT_FDT = 1024 * 1024;
/** Largest subtree blob we agree to read. */
const MAX_SUBTREE_FDT = 4 * 1024 * 1024;

/** A subtree retrieved from the incoming handover. */
export interface RetrievedSubtree {
  /** Subtree name. */
  readonly name: string;
  /** Physical address of the blob (what `kho_retrieve_subtree` returns). */
  readonly phys: PhysAddr;
  /** The blob's bytes (a copy). */
  readonly bytes: Uint8Array;
  /** The decoded blob. */
  readonly tree: FdtTree;
}

/**
 * Validates boot data and reads the scratch array (the first thing `kho_populate` does).
 *
 * @throws {@link KhoCorruptHandoverError} naming `kho_data` or `kho_scratch` fields.
 */
export function readScratchAreas(memory: PhysicalMemory, bootData: BootData): PhysRange[] {
  const { scratchAddr, scratchSize } = bootData;
  const count = scratchSize / KHO_SCRATCH.sizeof;
  if (!Number.isInteger(count) || count < 1 || count > MAX_SCRATCH_AREAS) {
    throw new KhoCorruptHandoverError("kho_data", "scratch_size", `not 16 × 1..${MAX_SCRATCH_AREAS}`, {
      value: scratchSize,
    });
  }
  if (!Number.isSafeInteger(scratchAddr) || !memory.map.isRam(scratchAddr, scratchSize)) {
    throw new KhoCorruptHandoverError("kho_data", "scratch_addr", "not RAM", { value: scratchAddr });
  }
  const bytes = memory.read(scratchAddr, scratchSize);
  const view = new DataView(bytes.buffer);
  const areas: PhysRange[] = [];
  for (let i = 0; i < count; i++) {
    const addr = view.getBigUint64(i * KHO_SCRATCH.sizeof + KHO_SCRATCH.addr, true);
    const size = view.getBigUint64(i * KHO_SCRATCH.sizeof + KHO_SCRATCH.size, true);
    const where = { index: i, phys: scratchAddr + i * KHO_SCRATCH.sizeof, addr, size };
    if (addr > BigInt(Number.MAX_SAFE_INTEGER) || size > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new KhoCorruptHandoverError("kho_scratch", "addr", "beyond 2^53", where);
    }
    const area = { base: Number(addr), size: Number(size) };
    if (area.size === 0 || area.base % PAGE_SIZE !== 0 || area.size % PAGE_SIZE !== 0) {
      throw new KhoCorruptHandoverError("kho_scratch", "size", "empty or not page aligned", where);
    }
    if (!memory.map.isRam(area.base, area.size))
      throw new KhoCorruptHandoverError("kho_scratch", "addr", "not RAM", where);
    if (overlapsAny(area.base, area.size, areas))
      throw new KhoCorruptHandoverError("kho_scratch", "addr", "areas overlap", where);
    areas.push(area);
  }
  if (overlapsAny(scratchAddr, scratchSize, areas)) {
    throw new KhoCorruptHandoverError("kho_data", "scratch_addr", "the array lies inside a scratch area", {
      value: scratchAddr,
    });
  }
  return areas;
}

/**
 * Reads and validates the root FDT (`kho_populate`: header, `compatible = "kho-v1"`, an 8-byte
 * `preserved-memory-map`).
 */
export function readRootFdt(
  memory: PhysicalMemory,
  bootData: BootData,
  scratch: readonly PhysRange[],
): FdtTree {
  const { fdtAddr, fdtSize } = bootData;
  if (!Number.isSafeInteger(fdtSize) || fdtSize < 40 || fdtSize > MAX_ROOT_FDT) {
    throw new KhoCorruptHandoverError("kho_data", "fdt_size", `not in 40..${MAX_ROOT_FDT}`, {
      value: fdtSize,
    });
  }
  if (!Number.isSafeInteger(fdtAddr) || fdtAddr % 8 !== 0 || !memory.map.isRam(fdtAddr, fdtSize)) {
    throw new KhoCorruptHandoverError("kho_data", "fdt_addr", "not 8-byte aligned RAM", { value: fdtAddr });
  }
  if (overlapsAny(fdtAddr, fdtSize, scratch)) {
    throw new KhoCorruptHandoverError("kho_data", "fdt_addr", "inside scratch", { value: fdtAddr });
  }
  let tree: FdtTree;
  try {
    tree = decodeFdt(memory.read(fdtAddr, fdtSize));
  } catch (cause) {
    throw new KhoCorruptHandoverError("fdt", "header", "root FDT does not parse", { phys: fdtAddr }, cause);
  }
  const compatible = tree.root.findProperty("compatible");
  const text =
    compatible === undefined ? undefined : new TextDecoder().decode(compatible).replace(/\0+$/, "");
  if (text !== KHO_FDT_COMPATIBLE) {
    throw new KhoCorruptHandoverError("fdt", "compatible", `expected "${KHO_FDT_COMPATIBLE}"`, {
      value: text,
    });
  }
  const map = tree.root.findProperty(PROP_PRESERVED_MEMORY_MAP);
  if (map === undefined || map.length !== 8) {
    throw new KhoCorruptHandoverError("fdt", PROP_PRESERVED_MEMORY_MAP, "missing or not 8 bytes", {
      length: map?.length,
    });
  }
  return tree;
}

/** Parses the memory map referenced by a validated root FDT. */
export function readIncomingMemoryMap(
  memory: PhysicalMemory,
  root: FdtTree,
  scratch: readonly PhysRange[],
): IncomingMemoryMap {
  const property = root.root.findProperty(PROP_PRESERVED_MEMORY_MAP)!;
  const first = new DataView(property.buffer, property.byteOffset, 8).getBigUint64(0, true);
  return readMemoryMap(memory, first, { isRam: (phys, size) => memory.map.isRam(phys, size), scratch });
}

/**
 * The incoming side of KHO (mirrors `kho_in`): what the previous kernel preserved, restored by
 * drivers one folio at a time. Every restore is checked against the validated memory map: not
 * preserved, wrong order, or already restored are typed errors, so nothing that was not preserved
 * is ever handed out.
 */
export class KhoIncoming {
  private readonly restored = new Map<number, Map<number, Uint8Array>>();
  private restoredFolios = 0;
  private readonly memory: PhysicalMemory;

  /**
   * @param kernel - the kernel that booted from the handover.
   * @param root - the validated root FDT.
   * @param memoryMap - the validated memory map.
   * @param fdtPhys - where the root FDT is.
   */
  constructor(
    private readonly kernel: Kernel,
    readonly root: FdtTree,
    readonly memoryMap: IncomingMemoryMap,
    readonly fdtPhys: PhysAddr,
  ) {
    this.memory = kernel.machine.memory;
  }

  /** Number of folios restored so far. */
  get restoredCount(): number {
    return this.restoredFolios;
  }

  /** Preserved folios (all orders) listed in the handover. */
  get preservedCount(): number {
    return this.memoryMap.folioCounts.reduce((a, b) => a + b, 0);
  }

  /**
   * Whether the previous kernel preserved a folio of exactly `order` at `phys`: one bitmap test
   * (the boot already refused handovers whose folios overlap), for checking long folio lists.
   */
  isPreservedFolio(phys: PhysAddr, order: number): boolean {
    this.kernel.assertAlive("kho.isPreservedFolio");
    if (
      !Number.isSafeInteger(phys) ||
      phys < 0 ||
      !Number.isInteger(order) ||
      order < 0 ||
      order > MAX_PAGE_ORDER
    )
      return false;
    if (phys % (PAGE_SIZE * (1 << order)) !== 0) return false;
    return testBit(this.memoryMap.bitmaps.get(order), phys / PAGE_SIZE, order);
  }

  /** The order the previous kernel preserved a folio at `phys` with, if `phys` is a folio head. */
  preservedOrderAt(phys: PhysAddr): number | undefined {
    this.kernel.assertAlive("kho.preservedOrderAt");
    if (!Number.isSafeInteger(phys) || phys < 0 || phys % PAGE_SIZE !== 0) return undefined;
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      if (
        phys % (PAGE_SIZE * (1 << order)) === 0 &&
        testBit(this.memoryMap.bitmaps.get(order), phys / PAGE_SIZE, order)
      ) {
        return order;
      }
    }
    return undefined;
  }

  /** True when every byte of the range was preserved by the previous kernel (restored or not). */
  isPreserved(phys: PhysAddr, size: number): boolean {
    this.kernel.assertAlive("kho.isPreserved");
    if (!Number.isSafeInteger(phys) || !Number.isSafeInteger(size) || size <= 0) return false;
    const ranges = this.memoryMap.ranges;
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = ranges[mid]!;
      if (phys < r.base) hi = mid - 1;
      else if (phys >= r.base + r.size) lo = mid + 1;
      else return phys + size <= r.base + r.size;
    }
    return false;
  }

  /**
   * The memory the previous kernel preserved inside `[base, base + size)` (restored or not), as
   * sorted, disjoint ranges clipped to that window. A driver that owns a region outside the page
   * allocator (a carve-out) holds these back from its own allocator until it has adopted them,
   * as memblock does for the rest of preserved memory: otherwise its first allocation could
   * overwrite a preserved object that has not been retrieved yet.
   *
   * @example
   * ```ts
   * const held = kho.incoming?.preservedRangesIn(region.base, region.size) ?? [];
   * ```
   */
  preservedRangesIn(base: PhysAddr, size: number): PhysRange[] {
    this.kernel.assertAlive("kho.preservedRangesIn");
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(size) || base < 0 || size <= 0) return [];
    const end = base + size;
    const out: PhysRange[] = [];
    for (const r of this.memoryMap.ranges) {
      if (r.base + r.size <= base) continue;
      if (r.base >= end) break;
      const from = Math.max(r.base, base);
      out.push({ base: from, size: Math.min(r.base + r.size, end) - from });
    }
    return out;
  }

  /**
   * Takes ownership of a preserved folio (mirrors `kho_restore_folio`): it becomes an allocated
   * block of this kernel, which the caller may later free.
   *
   * @throws {@link KhoNotPreservedError} (not preserved, or preserved with another order),
   *   {@link KhoAlreadyRestoredError}.
   */
  restoreFolio(phys: PhysAddr, order: number): PhysAddr {
    this.kernel.assertAlive("kho.restoreFolio");
    this.checkRestorable(phys, order);
    this.commitRestore(phys, order);
    return phys;
  }

  /** True when the folio was preserved with `order` and has been restored already. */
  isRestored(phys: PhysAddr, order: number): boolean {
    this.kernel.assertAlive("kho.isRestored");
    if (
      !Number.isInteger(order) ||
      order < 0 ||
      order > MAX_PAGE_ORDER ||
      !Number.isSafeInteger(phys) ||
      phys < 0
    ) {
      return false;
    }
    const pfn = phys / PAGE_SIZE;
    return Number.isInteger(pfn) && testBit(this.restored.get(order), pfn, order);
  }

  /**
   * Restores `nrPages` pages preserved with `preservePages(phys, nrPages)` (same split). All or
   * nothing: every folio is checked before any is taken.
   */
  restorePages(phys: PhysAddr, nrPages: number): PhysAddr {
    this.kernel.assertAlive("kho.restorePages");
    if (!Number.isSafeInteger(nrPages) || nrPages <= 0)
      throw new KhoBadArgumentError("restorePages", "page count", nrPages);
    if (!Number.isSafeInteger(phys) || phys < 0 || phys % PAGE_SIZE !== 0) {
      throw new KhoBadArgumentError("restorePages", "address", phys);
    }
    const folios = splitIntoFolios(phys, nrPages * PAGE_SIZE);
    for (const f of folios) this.checkRestorable(f.phys, f.order);
    for (const f of folios) this.commitRestore(f.phys, f.order);
    return phys;
  }

  /** Throws unless the folio was preserved with exactly `order` and is not restored yet. */
  private checkRestorable(phys: PhysAddr, order: number): void {
    if (!Number.isInteger(order) || order < 0 || order > MAX_PAGE_ORDER) {
      throw new KhoBadArgumentError("restoreFolio", "order", order);
    }
    if (!Number.isSafeInteger(phys) || phys < 0)
      throw new KhoBadArgumentError("restoreFolio", "address", phys);
    const pfn = phys / PAGE_SIZE;
    if (
      !Number.isInteger(pfn) ||
      pfn % (1 << order) !== 0 ||
      !testBit(this.memoryMap.bitmaps.get(order), pfn, order)
    ) {
      const actual = this.preservedOrderAt(phys);
      throw new KhoNotPreservedError(
        "restore",
        phys,
        order,
        actual === undefined ? "not preserved" : `preserved with order ${actual}`,
      );
    }
    if (testBit(this.restored.get(order), pfn, order)) throw new KhoAlreadyRestoredError(phys, order);
  }

  /** Marks a checked folio restored and hands it to the kernel's allocator. */
  private commitRestore(phys: PhysAddr, order: number): void {
    const pfn = phys / PAGE_SIZE;
    let restoredBits = this.restored.get(order);
    if (restoredBits === undefined) {
      restoredBits = new Map();
      this.restored.set(order, restoredBits);
    }
    const high = pfn / (1 << order);
    const index = Math.floor(high / PRESERVE_BITS);
    let bits = restoredBits.get(index);
    if (bits === undefined) {
      bits = new Uint8Array(PRESERVE_BITS / 8);
      restoredBits.set(index, bits);
    }
    const bit = high % PRESERVE_BITS;
    bits[bit >>> 3]! |= 1 << (bit & 7);
    this.restoredFolios++;
    this.kernel.adoptPages(phys, order);
  }

  /**
   * Restores a vmalloc area from its descriptor (mirrors `kho_restore_vmalloc`): every block and
   * chunk page must be preserved with the right order, the list must end, and the page count must
   * match `total_pages`. Chunk pages are freed afterwards.
   */
  restoreVmalloc(descriptor: KhoVmallocDescriptor | Uint8Array): VmallocArea {
    this.kernel.assertAlive("kho.restoreVmalloc");
    const d = descriptor instanceof Uint8Array ? decodeVmallocDescriptor(descriptor) : descriptor;
    if (d === undefined) throw new KhoVmallocError("first", "descriptor is not a 16-byte kho_vmalloc");
    if ((d.flags & ~(KHO_VMALLOC_ALLOC | KHO_VMALLOC_HUGE_VMAP)) !== 0) {
      throw new KhoVmallocError("flags", "unsupported flags", { value: d.flags });
    }
    if (d.order > MAX_PAGE_ORDER)
      throw new KhoVmallocError("order", `> ${MAX_PAGE_ORDER}`, { value: d.order });
    const blockPages = 1 << d.order;
    if (d.totalPages === 0 || d.totalPages % blockPages !== 0) {
      throw new KhoVmallocError("total_pages", "zero or not a multiple of the block size", {
        value: d.totalPages,
      });
    }
    // Walk and check the whole list first (read-only), then take everything: all or nothing.
    const blocks: PhysAddr[] = [];
    const chunks: PhysAddr[] = [];
    let chunk = d.first;
    while (chunk !== 0 && blocks.length * blockPages < d.totalPages) {
      if (chunks.includes(chunk)) throw new KhoVmallocError("next", "chunk list loops", { phys: chunk });
      if (this.preservedOrderAt(chunk) !== 0 || this.isRestored(chunk, 0)) {
        throw new KhoVmallocError("next", "chunk page not preserved (or already restored)", { phys: chunk });
      }
      chunks.push(chunk);
      for (let j = 0; j < KHO_VMALLOC_CHUNK.entries; j++) {
        const entry = this.memory.readU64(chunk + KHO_VMALLOC_CHUNK.phys + j * 8);
        if (entry === 0n) break;
        if ((blocks.length + 1) * blockPages > d.totalPages) {
          throw new KhoVmallocError("phys", "more blocks than total_pages", { chunk, index: j });
        }
        if (entry > BigInt(Number.MAX_SAFE_INTEGER))
          throw new KhoVmallocError("phys", "beyond 2^53", { chunk, index: j });
        this.checkRestorable(Number(entry), d.order);
        if (blocks.includes(Number(entry)))
          throw new KhoVmallocError("phys", "block listed twice", { chunk, index: j });
        blocks.push(Number(entry));
      }
      chunk = Number(this.memory.readU64(chunk + KHO_VMALLOC_CHUNK.next));
    }
    if (blocks.length * blockPages !== d.totalPages) {
      throw new KhoVmallocError("total_pages", "fewer blocks listed than total_pages", {
        value: d.totalPages,
        found: blocks.length,
      });
    }
    for (const c of chunks) this.commitRestore(c, 0);
    for (const b of blocks) this.commitRestore(b, d.order);
    for (const c of chunks) this.kernel.freePages(c, 0);
    return { blocks, order: d.order, totalPages: d.totalPages };
  }

  /** Names of the subtrees in the handover. */
  subtreeNames(): string[] {
    this.kernel.assertAlive("kho.subtreeNames");
    return this.root.root.children.map((child: FdtNode) => child.name);
  }

  /**
   * Finds a subtree by name (mirrors `kho_retrieve_subtree`), checks that its blob lies in
   * preserved memory and parses it.
   *
   * @throws {@link KhoSubtreeNotFoundError} (ENOENT), {@link KhoBadSubtreeError} (EINVAL).
   */
  retrieveSubtree(name: string): RetrievedSubtree {
    this.kernel.assertAlive("kho.retrieveSubtree");
    const node = this.root.root.children.find((child: FdtNode) => child.name === name);
    if (node === undefined) throw new KhoSubtreeNotFoundError(name);
    return readSubtree(this.memory, node, (phys, size) => this.isPreserved(phys, size));
  }
}

/**
 * Reads the blob of one subtree node of a root FDT: its `fdt` property must be 8 bytes, and the
 * blob (magic, `totalsize`) must lie in memory `isPreserved` accepts before it is parsed.
 *
 * @throws {@link KhoBadSubtreeError} (EINVAL) naming the subtree and the address.
 */
export function readSubtree(
  memory: PhysicalMemory,
  node: FdtNode,
  isPreserved: (phys: PhysAddr, size: number) => boolean,
): RetrievedSubtree {
  const name = node.name;
  const property = node.findProperty(PROP_SUBTREE_FDT);
  if (property === undefined || property.length !== 8) {
    throw new KhoBadSubtreeError(name, `property "${PROP_SUBTREE_FDT}" missing or not 8 bytes`);
  }
  const value = new DataView(property.buffer, property.byteOffset, 8).getBigUint64(0, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || !isPreserved(Number(value), 40)) {
    throw new KhoBadSubtreeError(name, "blob address is not in preserved memory", { phys: value });
  }
  const phys = Number(value);
  const header = new DataView(memory.read(phys, 8).buffer);
  if (header.getUint32(0, false) !== FDT_MAGIC)
    throw new KhoBadSubtreeError(name, "blob is not an FDT (bad magic)", { phys });
  const size = header.getUint32(4, false);
  if (size > MAX_SUBTREE_FDT || !isPreserved(phys, size)) {
    throw new KhoBadSubtreeError(name, "blob totalsize runs outside preserved memory", {
      phys,
      totalsize: size,
    });
  }
  const bytes = memory.read(phys, size);
  try {
    return { name, phys, bytes, tree: decodeFdt(bytes) };
  } catch (cause) {
    throw new KhoBadSubtreeError(name, "blob does not parse as an FDT", { phys }, cause);
  }
}

function testBit(bitmaps: ReadonlyMap<number, Uint8Array> | undefined, pfn: number, order: number): boolean {
  if (bitmaps === undefined) return false;
  const high = pfn / (1 << order);
  const bits = bitmaps.get(Math.floor(high / PRESERVE_BITS));
  if (bits === undefined) return false;
  const bit = high % PRESERVE_BITS;
  return (bits[bit >>> 3]! & (1 << (bit & 7))) !== 0;
}
