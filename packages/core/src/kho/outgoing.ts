import type { PhysicalMemory } from "../hw/physical-memory.js";
import { PAGE_SIZE, type PhysAddr, type PhysRange } from "../hw/units.js";
import type { BootData } from "../kernel/boot-data.js";
import { MAX_PAGE_ORDER } from "../kernel/buddy.js";
import type { Kernel, RebootContribution } from "../kernel/kernel.js";
import { mergeRanges, overlapsAny } from "../kernel/ranges.js";
import {
  KHO_FDT_COMPATIBLE,
  KHO_FDT_SIZE,
  KHO_MEM_PHYS_BITS_SIZE,
  KHO_SCRATCH,
  KHO_VMALLOC_ALLOC,
  KHO_VMALLOC_CHUNK,
  KHO_VMALLOC_HUGE_VMAP,
  KHOSER_MEM_CHUNK_SIZE,
  PROP_PRESERVED_MEMORY_MAP,
  PROP_SUBTREE_FDT,
} from "./abi.js";
import {
  KhoBadArgumentError,
  KhoBadOrderError,
  KhoBadSubtreeError,
  KhoDisabledError,
  KhoFdtFullError,
  KhoFinalizedError,
  KhoInScratchError,
  KhoMemoryFreeError,
  KhoMisalignedError,
  KhoNotPreservedError,
  KhoNotRamError,
  KhoOverlapError,
  KhoSubtreeExistsError,
  KhoVmallocError,
} from "./errors.js";
import { FDT_MAGIC } from "./fdt/abi.js";
import { FdtBuilder } from "./fdt/builder.js";
import { isValidFdtNodeName } from "./fdt/values.js";
import { collectRuns } from "./memory-map-reader.js";
import { type SerializedMemoryMap, writeMemoryMap } from "./memory-map-writer.js";
import { PreservationTracker } from "./tracker.js";
import { encodeVmallocDescriptor, type KhoVmallocDescriptor } from "./vmalloc.js";

/** Result of {@link KhoOutgoing.finalize}: where the handover is and what it costs. */
export interface KhoFinalizeReport {
  /** Physical address of the root FDT (`fdt_addr`). */
  readonly fdtPhys: PhysAddr;
  /** Bytes of the encoded root FDT (`totalsize`). */
  readonly fdtBytes: number;
  /** First `khoser_mem_chunk`, 0 when nothing is preserved. */
  readonly firstChunk: PhysAddr;
  /** Number of chunk pages. */
  readonly chunks: number;
  /** Number of 512-byte bitmaps. */
  readonly bitmaps: number;
  /**
   * Memory-map metadata in bytes as the format defines it: 512 per bitmap plus 4096 per chunk
   * (the root FDT page and subtrees not included).
   */
  readonly metadataBytes: number;
  /** Preserved folios (all orders). */
  readonly folios: number;
  /** Preserved bytes. */
  readonly preservedBytes: number;
}

interface Subtree {
  readonly phys: PhysAddr;
  /** Set when {@link KhoOutgoing.publishSubtree} allocated the blob (so removal frees it). */
  readonly owned?: { phys: PhysAddr; order: number };
}

interface Finalized {
  readonly memoryMap: SerializedMemoryMap;
  readonly report: KhoFinalizeReport;
}

/**
 * The outgoing side of KHO: what this kernel preserves for the next one (mirrors `kho_out`).
 * Preservation is checked harder than upstream: the memory must be RAM, allocated, outside
 * scratch, aligned, and not already preserved, otherwise a typed error says which rule failed.
 */
export class KhoOutgoing {
  /** Name as a reboot participant. */
  readonly name = "kho";
  private readonly tracker: PreservationTracker;
  private readonly subtrees = new Map<string, Subtree>();
  private rootFdtPage: PhysAddr | undefined;
  private finalized: Finalized | undefined;
  private readonly memory: PhysicalMemory;

  /**
   * @param kernel - the running kernel.
   * @param enabled - `kho=on` was given.
   * @param scratch - this boot's scratch areas (nothing there may be preserved).
   * @param scratchArrayPhys - the `kho_scratch` array handed to the next kernel.
   */
  constructor(
    private readonly kernel: Kernel,
    readonly enabled: boolean,
    readonly scratch: readonly PhysRange[],
    readonly scratchArrayPhys: PhysAddr | undefined,
  ) {
    this.memory = kernel.machine.memory;
    this.tracker = new PreservationTracker(this.memory, () => kernel.allocPages(0));
  }

  /** True after {@link KhoOutgoing.finalize} until {@link KhoOutgoing.abort}. */
  get isFinalized(): boolean {
    return this.finalized !== undefined;
  }

  /** The last finalize report, while finalized. */
  get finalizeReport(): KhoFinalizeReport | undefined {
    return this.finalized?.report;
  }

  // ---- preserve / unpreserve -------------------------------------------------------------------

  /**
   * Preserves one folio of `2^order` pages at `phys` (mirrors `kho_preserve_folio`).
   *
   * @throws {@link KhoBadOrderError}, {@link KhoMisalignedError}, {@link KhoNotRamError},
   *   {@link KhoInScratchError}, {@link KhoMemoryFreeError}, {@link KhoOverlapError},
   *   {@link KhoFinalizedError}, {@link KhoDisabledError}.
   */
  preserveFolio(phys: PhysAddr, order: number): void {
    this.checkMutable("preserveFolio");
    this.checkPreservable(phys, order);
    this.tracker.set(phys / PAGE_SIZE, order);
  }

  /**
   * Drops a preservation made with {@link KhoOutgoing.preserveFolio} (same address and order).
   *
   * @throws {@link KhoNotPreservedError} when that exact folio is not preserved.
   */
  unpreserveFolio(phys: PhysAddr, order: number): void {
    this.checkMutable("unpreserveFolio");
    if (!isFolio(phys, order) || !this.tracker.test(phys / PAGE_SIZE, order)) {
      throw new KhoNotPreservedError("unpreserve", phys, order);
    }
    this.tracker.clear(phys / PAGE_SIZE, order);
  }

  /**
   * Preserves `nrPages` pages from `phys`, split into the largest naturally aligned folios
   * (mirrors `kho_preserve_pages`). All or nothing: on error, what was preserved is undone.
   */
  preservePages(phys: PhysAddr, nrPages: number): void {
    this.checkMutable("preservePages");
    this.checkRange("preservePages", phys, nrPages);
    this.preserveSplit(phys, nrPages * PAGE_SIZE);
  }

  /** Undoes {@link KhoOutgoing.preservePages} with the same arguments (all or nothing). */
  unpreservePages(phys: PhysAddr, nrPages: number): void {
    this.checkMutable("unpreservePages");
    this.checkRange("unpreservePages", phys, nrPages);
    this.unpreserveAll(splitIntoFolios(phys, nrPages * PAGE_SIZE));
  }

  /**
   * Preserves an arbitrary page-aligned physical range (mirrors 6.16 `kho_preserve_phys`), split
   * into naturally aligned folios of order ≤ 10.
   */
  preservePhys(phys: PhysAddr, size: number): void {
    this.checkMutable("preservePhys");
    if (phys % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0 || size <= 0) {
      throw new KhoMisalignedError(phys, size, "address and size must be page aligned and size positive");
    }
    this.preserveSplit(phys, size);
  }

  /** Undoes {@link KhoOutgoing.preservePhys} with the same arguments (all or nothing). */
  unpreservePhys(phys: PhysAddr, size: number): void {
    this.checkMutable("unpreservePhys");
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
      throw new KhoBadArgumentError("unpreservePhys", "size", size);
    }
    this.checkRange("unpreservePhys", phys, size / PAGE_SIZE);
    this.unpreserveAll(splitIntoFolios(phys, size));
  }

  /**
   * Preserves a "vmalloc" area: non-contiguous blocks of `2^order` pages, listed in preserved
   * `kho_vmalloc_chunk` pages (mirrors `kho_preserve_vmalloc`). Store the returned descriptor (or
   * its 16-byte encoding) in your own handover data.
   */
  preserveVmalloc(
    blocks: readonly PhysAddr[],
    options: { order?: number; flags?: number } = {},
  ): KhoVmallocDescriptor & { bytes: Uint8Array } {
    this.checkMutable("preserveVmalloc");
    const order = options.order ?? 0;
    const flags = options.flags ?? KHO_VMALLOC_ALLOC;
    if ((flags & ~(KHO_VMALLOC_ALLOC | KHO_VMALLOC_HUGE_VMAP)) !== 0) {
      throw new KhoVmallocError("flags", "unsupported flags", { value: flags });
    }
    if (blocks.length === 0) throw new KhoVmallocError("total_pages", "empty area");
    const done: Array<{ phys: PhysAddr; order: number }> = [];
    const chunks: PhysAddr[] = [];
    try {
      for (const block of blocks) {
        this.preserveFolio(block, order);
        done.push({ phys: block, order });
      }
      for (let i = 0; i < blocks.length; i += KHO_VMALLOC_CHUNK.entries) {
        const chunk = this.kernel.allocPages(0);
        chunks.push(chunk);
        this.memory.fill(chunk, PAGE_SIZE, 0);
        this.preserveFolio(chunk, 0);
        done.push({ phys: chunk, order: 0 });
        if (chunks.length > 1)
          this.memory.writeU64(chunks[chunks.length - 2]! + KHO_VMALLOC_CHUNK.next, BigInt(chunk));
        blocks.slice(i, i + KHO_VMALLOC_CHUNK.entries).forEach((block, j) => {
          this.memory.writeU64(chunk + KHO_VMALLOC_CHUNK.phys + j * 8, BigInt(block));
        });
      }
    } catch (error) {
      for (const folio of done) this.tracker.clear(folio.phys / PAGE_SIZE, folio.order);
      for (const chunk of chunks) this.kernel.freePages(chunk, 0);
      throw error;
    }
    const descriptor = { first: chunks[0]!, totalPages: blocks.length * (1 << order), flags, order };
    return { ...descriptor, bytes: encodeVmallocDescriptor(descriptor) };
  }

  /**
   * Undoes {@link KhoOutgoing.preserveVmalloc}: unpreserves every block and frees the chunk pages.
   * All or nothing: the whole list is checked before anything changes.
   */
  unpreserveVmalloc(descriptor: KhoVmallocDescriptor): void {
    this.checkMutable("unpreserveVmalloc");
    const { order, totalPages } = descriptor;
    if (!Number.isInteger(order) || order < 0 || order > MAX_PAGE_ORDER) {
      throw new KhoVmallocError("order", `outside 0..${MAX_PAGE_ORDER}`, { value: order });
    }
    const blockCount = totalPages / (1 << order);
    if (!Number.isSafeInteger(blockCount) || blockCount <= 0) {
      throw new KhoVmallocError("total_pages", "zero or not a multiple of the block size", {
        value: totalPages,
      });
    }
    const folios: Array<{ phys: PhysAddr; order: number }> = [];
    const chunks: PhysAddr[] = [];
    let remaining = blockCount;
    for (let chunk = descriptor.first; remaining > 0; ) {
      if (!isFolio(chunk, 0) || !this.tracker.test(chunk / PAGE_SIZE, 0) || chunks.includes(chunk)) {
        throw new KhoVmallocError("first", "chunk list does not match what preserveVmalloc wrote", {
          phys: chunk,
        });
      }
      chunks.push(chunk);
      for (let j = 0; j < KHO_VMALLOC_CHUNK.entries && remaining > 0; j++, remaining--) {
        folios.push({ phys: Number(this.memory.readU64(chunk + KHO_VMALLOC_CHUNK.phys + j * 8)), order });
      }
      chunk = Number(this.memory.readU64(chunk + KHO_VMALLOC_CHUNK.next));
    }
    this.unpreserveAll([...folios, ...chunks.map((phys) => ({ phys, order: 0 }))]);
    for (const chunk of chunks) this.kernel.freePages(chunk, 0);
  }

  /** True when every byte of `[phys, phys + size)` lies in folios preserved by this kernel. */
  isPreserved(phys: PhysAddr, size: number): boolean {
    this.kernel.assertAlive("kho.isPreserved");
    let cursor = phys;
    const end = phys + size;
    while (cursor < end) {
      const folio = this.preservedFolioAt(cursor);
      if (folio === undefined) return false;
      cursor = folio.phys + PAGE_SIZE * (1 << folio.order);
    }
    return size > 0;
  }

  /** The preserved folio containing `phys`, if any. */
  preservedFolioAt(phys: PhysAddr): { phys: PhysAddr; order: number } | undefined {
    this.kernel.assertAlive("kho.preservedFolioAt");
    if (!Number.isSafeInteger(phys) || phys < 0) return undefined;
    const pfn = Math.floor(phys / PAGE_SIZE);
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      const head = pfn - (pfn % (1 << order));
      if (this.tracker.test(head, order)) return { phys: head * PAGE_SIZE, order };
    }
    return undefined;
  }

  /** Every preserved folio, ascending by order then address. */
  preservedFolios(): IterableIterator<{ phys: PhysAddr; order: number }> {
    this.kernel.assertAlive("kho.preservedFolios");
    return this.tracker.preservedFolios();
  }

  /** Preserved folio count and bytes. */
  stats(): { folios: number; preservedBytes: number; bitmapPages: number } {
    this.kernel.assertAlive("kho.stats");
    return {
      folios: this.tracker.totalFolios(),
      preservedBytes: this.tracker.preservedBytes(),
      bitmapPages: this.tracker.bitmapPages().length,
    };
  }

  // ---- subtrees --------------------------------------------------------------------------------

  /**
   * Adds a named subtree whose FDT blob is already in memory at `fdtPhys` and preserved by the
   * caller (mirrors `kho_add_subtree`: nothing is copied).
   *
   * @throws {@link KhoSubtreeExistsError}, {@link KhoBadSubtreeError}.
   */
  addSubtree(name: string, fdtPhys: PhysAddr): void {
    this.checkMutable("addSubtree");
    if (!isValidFdtNodeName(name)) throw new KhoBadSubtreeError(name, "not a valid FDT node name");
    if (this.subtrees.has(name)) throw new KhoSubtreeExistsError(name);
    this.checkSubtreeBlob(name, fdtPhys);
    this.subtrees.set(name, { phys: fdtPhys });
  }

  /**
   * Convenience: allocates pages for `blob`, copies it there, preserves them and adds the subtree.
   *
   * @returns the blob's physical address.
   */
  publishSubtree(name: string, blob: Uint8Array): PhysAddr {
    this.checkMutable("publishSubtree");
    if (!isValidFdtNodeName(name)) throw new KhoBadSubtreeError(name, "not a valid FDT node name");
    if (this.subtrees.has(name)) throw new KhoSubtreeExistsError(name);
    let order = 0;
    while (PAGE_SIZE * (1 << order) < blob.length) order++;
    if (order > MAX_PAGE_ORDER)
      throw new KhoBadSubtreeError(name, `blob of ${blob.length} bytes exceeds 4 MiB`);
    const phys = this.kernel.allocPages(order);
    let preserved = false;
    try {
      this.memory.write(phys, blob);
      this.preserveFolio(phys, order);
      preserved = true;
      this.checkSubtreeBlob(name, phys);
    } catch (error) {
      if (preserved) this.tracker.clear(phys / PAGE_SIZE, order);
      this.kernel.freePages(phys, order);
      throw error;
    }
    this.subtrees.set(name, { phys, owned: { phys, order } });
    return phys;
  }

  /** Removes a subtree; a blob allocated by {@link KhoOutgoing.publishSubtree} is unpreserved and freed. */
  removeSubtree(name: string): void {
    this.checkMutable("removeSubtree");
    const subtree = this.subtrees.get(name);
    if (subtree === undefined) throw new KhoBadSubtreeError(name, "no such outgoing subtree");
    this.subtrees.delete(name);
    if (subtree.owned !== undefined) {
      this.tracker.clear(subtree.owned.phys / PAGE_SIZE, subtree.owned.order);
      this.kernel.freePages(subtree.owned.phys, subtree.owned.order);
    }
  }

  /** Names of the outgoing subtrees, in the order they will appear in the root FDT. */
  subtreeNames(): string[] {
    this.kernel.assertAlive("kho.subtreeNames");
    return [...this.subtrees.keys()];
  }

  // ---- finalize / abort / reboot ---------------------------------------------------------------

  /**
   * Freezes preservations and writes the handover (mirrors `kho_finalize`): preserves the root FDT
   * page, serializes the memory map, and writes the root FDT with `compatible = "kho-v1"`,
   * `preserved-memory-map` and one node per subtree. Preservations are refused until
   * {@link KhoOutgoing.abort}.
   */
  finalize(): KhoFinalizeReport {
    this.kernel.assertAlive("kho.finalize");
    if (!this.enabled) throw new KhoDisabledError("finalize");
    if (this.finalized !== undefined) throw new KhoFinalizedError("finalize");
    for (const [name, subtree] of this.subtrees) this.checkSubtreeBlob(name, subtree.phys);
    if (this.rootFdtPage === undefined) this.rootFdtPage = this.kernel.allocPages(0);
    const fdtPhys = this.rootFdtPage;
    this.preserveFolio(fdtPhys, 0);
    const chunkPages: PhysAddr[] = [];
    let memoryMap: SerializedMemoryMap;
    try {
      memoryMap = writeMemoryMap(this.tracker, this.memory, () => this.kernel.allocPages(0), chunkPages);
      const builder = new FdtBuilder()
        .beginNode("")
        .propString("compatible", KHO_FDT_COMPATIBLE)
        .propU64le(PROP_PRESERVED_MEMORY_MAP, BigInt(memoryMap.firstChunk));
      for (const [name, subtree] of this.subtrees) {
        builder.beginNode(name).propU64le(PROP_SUBTREE_FDT, BigInt(subtree.phys)).endNode();
      }
      const fdt = builder.endNode().finish();
      if (fdt.length > KHO_FDT_SIZE) throw new KhoFdtFullError(fdt.length, KHO_FDT_SIZE);
      this.memory.fill(fdtPhys, PAGE_SIZE, 0);
      this.memory.write(fdtPhys, fdt);
    } catch (error) {
      // Leave KHO exactly as before finalize (kho_abort on a failed finalize), so it can be retried.
      for (const chunk of chunkPages) this.kernel.freePages(chunk, 0);
      this.tracker.clear(fdtPhys / PAGE_SIZE, 0);
      throw error;
    }
    const fdtBytes = this.memory.read(fdtPhys + 4, 4);
    const bitmaps = this.tracker.bitmaps().length;
    const report: KhoFinalizeReport = {
      fdtPhys,
      fdtBytes: new DataView(fdtBytes.buffer).getUint32(0, false),
      firstChunk: memoryMap.firstChunk,
      chunks: memoryMap.chunkPages.length,
      bitmaps,
      metadataBytes: bitmaps * KHO_MEM_PHYS_BITS_SIZE + memoryMap.chunkPages.length * KHOSER_MEM_CHUNK_SIZE,
      folios: this.tracker.totalFolios(),
      preservedBytes: this.tracker.preservedBytes(),
    };
    this.finalized = { memoryMap, report };
    return report;
  }

  /**
   * Discards the serialized handover and unfreezes preservations (mirrors `kho_abort`). Unlike
   * 6.16, which also dropped every preservation, the tracker is kept: a cancelled live update must
   * leave the old kernel exactly as it was, and callers unpreserve what they no longer want.
   */
  abort(): void {
    this.kernel.assertAlive("kho.abort");
    const finalized = this.finalized;
    if (finalized === undefined) return;
    for (const chunk of finalized.memoryMap.chunkPages) this.kernel.freePages(chunk, 0);
    this.tracker.clear(finalized.report.fdtPhys / PAGE_SIZE, 0);
    this.finalized = undefined;
  }

  /**
   * What survives the reboot: with a finalized handover, the preserved folios, the metadata the
   * next kernel reads (chunks, bitmaps, scratch array) and the boot data; without one, nothing —
   * like upstream, an unfinalized KHO hands nothing over.
   */
  prepareReboot(): RebootContribution {
    if (this.finalized === undefined || this.scratchArrayPhys === undefined) return { keep: [] };
    // Runs of set bits, not folio by folio: 64 GiB of 4 KiB folios is 16M folios.
    const runs: Array<{ base: number; size: number; order: number }> = [];
    for (const bitmap of this.tracker.bitmaps()) {
      collectRuns(this.memory.read(bitmap.phys, KHO_MEM_PHYS_BITS_SIZE), bitmap.index, bitmap.order, runs);
    }
    const keep: PhysRange[] = mergeRanges(runs);
    for (const page of this.finalized.memoryMap.chunkPages) keep.push({ base: page, size: PAGE_SIZE });
    for (const page of this.tracker.bitmapPages()) keep.push({ base: page, size: PAGE_SIZE });
    keep.push({ base: this.scratchArrayPhys, size: PAGE_SIZE });
    const bootData: BootData = {
      fdtAddr: this.finalized.report.fdtPhys,
      fdtSize: KHO_FDT_SIZE,
      scratchAddr: this.scratchArrayPhys,
      scratchSize: this.scratch.length * KHO_SCRATCH.sizeof,
    };
    return { keep, bootData };
  }

  // ---- internals -------------------------------------------------------------------------------

  private checkMutable(operation: string): void {
    this.kernel.assertAlive(`kho.${operation}`);
    if (!this.enabled) throw new KhoDisabledError(operation);
    if (this.finalized !== undefined) throw new KhoFinalizedError(operation);
  }

  private checkPreservable(phys: PhysAddr, order: number): void {
    if (!Number.isInteger(order) || order < 0 || order > MAX_PAGE_ORDER) {
      throw new KhoBadOrderError(phys, PAGE_SIZE, `order ${order} is outside 0..${MAX_PAGE_ORDER}`);
    }
    const size = PAGE_SIZE * (1 << order);
    if (!isFolio(phys, order))
      throw new KhoMisalignedError(phys, size, `not aligned to its ${size}-byte folio size`);
    if (!this.kernel.machine.memoryMap.isRam(phys, size)) throw new KhoNotRamError(phys, size, "not RAM");
    if (overlapsAny(phys, size, this.scratch))
      throw new KhoInScratchError(phys, size, "inside a KHO scratch area");
    if (!this.kernel.isInUse(phys, size)) throw new KhoMemoryFreeError(phys, size, "memory is not allocated");
    const pfn = phys / PAGE_SIZE;
    for (let k = 0; k <= MAX_PAGE_ORDER; k++) {
      const clash =
        k >= order
          ? this.tracker.test(pfn - (pfn % (1 << k)), k)
          : this.tracker.anyInRange(k, pfn / (1 << k), (pfn + (1 << order)) / (1 << k));
      if (clash) throw new KhoOverlapError(phys, size, `overlaps a preserved folio of order ${k}`);
    }
  }

  /** Checks `phys` is page aligned and `nrPages` a positive safe integer. */
  private checkRange(operation: string, phys: PhysAddr, nrPages: number): void {
    if (!Number.isSafeInteger(nrPages) || nrPages <= 0)
      throw new KhoBadArgumentError(operation, "page count", nrPages);
    if (!isFolio(phys, 0))
      throw new KhoMisalignedError(phys, nrPages * PAGE_SIZE, "address not page aligned");
  }

  /** Unpreserves every folio, or none when any of them is not preserved with that order. */
  private unpreserveAll(folios: ReadonlyArray<{ phys: PhysAddr; order: number }>): void {
    for (const f of folios) {
      if (!isFolio(f.phys, f.order) || !this.tracker.test(f.phys / PAGE_SIZE, f.order)) {
        throw new KhoNotPreservedError("unpreserve", f.phys, f.order);
      }
    }
    for (const f of folios) this.tracker.clear(f.phys / PAGE_SIZE, f.order);
  }

  private preserveSplit(phys: PhysAddr, size: number): void {
    const done: Array<{ phys: PhysAddr; order: number }> = [];
    try {
      for (const folio of splitIntoFolios(phys, size)) {
        this.preserveFolio(folio.phys, folio.order);
        done.push(folio);
      }
    } catch (error) {
      for (const folio of done) this.tracker.clear(folio.phys / PAGE_SIZE, folio.order);
      throw error;
    }
  }

  private checkSubtreeBlob(name: string, phys: PhysAddr): void {
    if (!Number.isSafeInteger(phys) || !this.kernel.machine.memoryMap.isRam(phys, 40)) {
      throw new KhoBadSubtreeError(name, "blob address is not RAM", { phys });
    }
    const header = this.memory.read(phys, 8);
    const view = new DataView(header.buffer);
    if (view.getUint32(0, false) !== FDT_MAGIC)
      throw new KhoBadSubtreeError(name, "blob is not an FDT (bad magic)", { phys });
    const totalSize = view.getUint32(4, false);
    if (!this.isPreserved(phys, totalSize)) {
      throw new KhoBadSubtreeError(
        name,
        "the blob's pages are not preserved (preserve them before adding the subtree)",
        {
          phys,
          totalSize,
        },
      );
    }
  }
}

/** True when `phys` is a valid folio head of `order`. */
function isFolio(phys: PhysAddr, order: number): boolean {
  return Number.isSafeInteger(phys) && phys >= 0 && phys % (PAGE_SIZE * (1 << order)) === 0;
}

/** Splits a page-aligned range into maximal naturally aligned folios of order ≤ 10. */
export function splitIntoFolios(phys: PhysAddr, size: number): Array<{ phys: PhysAddr; order: number }> {
  const out: Array<{ phys: PhysAddr; order: number }> = [];
  let pfn = phys / PAGE_SIZE;
  const end = (phys + size) / PAGE_SIZE;
  while (pfn < end) {
    let order = 0;
    while (order < MAX_PAGE_ORDER && pfn % (1 << (order + 1)) === 0 && pfn + (1 << (order + 1)) <= end)
      order++;
    out.push({ phys: pfn * PAGE_SIZE, order });
    pfn += 1 << order;
  }
  return out;
}
