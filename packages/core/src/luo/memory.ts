import type { PhysicalMemory } from "../hw/physical-memory.js";
import { PAGE_SIZE, type PhysAddr, type PhysRange } from "../hw/units.js";
import { MAX_PAGE_ORDER } from "../kernel/buddy.js";
import type { Kernel } from "../kernel/kernel.js";
import type { Kho } from "../kho/kho.js";
import { splitIntoFolios } from "../kho/outgoing.js";
import type { SchemaMemory } from "../schema/memory/memory.js";
import { LuoReadOnlyMemoryError, LuoStateTooLargeError } from "./errors.js";
import type { PreservedFolio } from "./handlers/contexts.js";

/** Largest single allocation of a {@link PreservedArena} (one serialized value or list): 256 MiB. */
export const MAX_ARENA_ALLOCATION = 256 * 1024 * 1024;

/** Extra max-order blocks a contiguous-run search may take before giving up. */
const RUN_SEARCH_SLACK = 64;

/** The lowest run of `count` blocks of `size` bytes, each following the previous, among `taken`. */
function contiguousRun(taken: readonly number[], count: number, size: number): number[] | undefined {
  const sorted = [...taken].sort((a, b) => a - b);
  let start = 0;
  for (let i = 1; i <= sorted.length; i++) {
    if (i - start >= count) return sorted.slice(start, start + count);
    if (i < sorted.length && sorted[i] !== sorted[i - 1]! + size) start = i;
  }
  return undefined;
}

/**
 * Preserved memory the orchestrator encodes state into (a `SchemaMemory` for the codecs): folios
 * allocated from the page allocator, preserved through KHO, and bump-allocated. One arena per object
 * (and one for the orchestrator's own handover), so cancelling or re-serializing one object releases
 * exactly its pages.
 *
 * @internal
 */
export class PreservedArena implements SchemaMemory {
  private readonly blocks: { phys: PhysAddr; folios: PreservedFolio[]; size: number; used: number }[] = [];
  private readonly memory: PhysicalMemory;

  constructor(
    private readonly kernel: Kernel,
    private readonly kho: Kho,
  ) {
    this.memory = kernel.machine.memory;
  }

  /** The folios of the arena. */
  get folios(): PreservedFolio[] {
    return this.blocks.flatMap((b) => b.folios);
  }

  /** Bytes of preserved pages the arena holds. */
  get bytes(): number {
    let total = 0;
    for (const b of this.blocks) total += b.size;
    return total;
  }

  /**
   * Bump-allocates `size` bytes. A request larger than the largest folio (4 MiB) gets a run of
   * physically contiguous max-order folios (codecs lay a value out contiguously).
   *
   * @throws {@link LuoStateTooLargeError} when the request exceeds {@link MAX_ARENA_ALLOCATION} or no
   *   contiguous run of folios can be found.
   */
  allocate(size: number, align: number): number {
    const current = this.blocks[this.blocks.length - 1];
    if (current !== undefined) {
      const offset = Math.ceil(current.used / align) * align;
      if (offset + size <= current.size) {
        current.used = offset + size;
        return current.phys + offset;
      }
    }
    const need = Math.max(size, align, 1);
    if (!Number.isSafeInteger(need) || need > MAX_ARENA_ALLOCATION) {
      throw new LuoStateTooLargeError(need, MAX_ARENA_ALLOCATION, "exceeds the arena limit");
    }
    const folios = need > folioBytes(MAX_PAGE_ORDER) ? this.allocateRun(need) : [this.allocateFolio(need)];
    const bytes = folios.reduce((a, f) => a + folioBytes(f.order), 0);
    const done: PreservedFolio[] = [];
    try {
      for (const f of folios) {
        this.memory.fill(f.phys, folioBytes(f.order), 0);
        this.kho.preserveFolio(f.phys, f.order);
        done.push(f);
      }
    } catch (error) {
      for (const f of done) this.kho.unpreserveFolio(f.phys, f.order);
      for (const f of folios) this.kernel.freePages(f.phys, f.order);
      throw error;
    }
    const phys = folios[0]!.phys;
    this.blocks.push({ phys, folios, size: bytes, used: size });
    return phys;
  }

  private allocateFolio(need: number): PreservedFolio {
    let order = 0;
    while (folioBytes(order) < need && order < MAX_PAGE_ORDER) order++;
    return { phys: this.kernel.allocPages(order), order };
  }

  /** A run of contiguous max-order folios covering `need` bytes; frees every block it does not use. */
  private allocateRun(need: number): PreservedFolio[] {
    const max = folioBytes(MAX_PAGE_ORDER);
    const count = Math.ceil(need / max);
    const taken: number[] = [];
    let run: number[] | undefined;
    try {
      for (let attempt = 0; attempt < count + RUN_SEARCH_SLACK && run === undefined; attempt++) {
        taken.push(this.kernel.allocPages(MAX_PAGE_ORDER));
        run = contiguousRun(taken, count, max);
      }
    } catch {
      // Out of max-order blocks: no run.
    }
    const used = new Set(run ?? []);
    for (const phys of taken) if (!used.has(phys)) this.kernel.freePages(phys, MAX_PAGE_ORDER);
    if (run === undefined) {
      throw new LuoStateTooLargeError(
        need,
        MAX_ARENA_ALLOCATION,
        "no physically contiguous run of folios is free",
      );
    }
    return run.map((phys) => ({ phys, order: MAX_PAGE_ORDER }));
  }

  write(phys: number, bytes: Uint8Array): void {
    this.memory.write(phys, bytes);
  }

  read(phys: number, length: number): Uint8Array {
    return this.memory.read(phys, length);
  }

  isPreserved(phys: number, length: number): boolean {
    return this.kho.outgoing.isPreserved(phys, length);
  }

  /** Unpreserves and frees every folio (cancel, or replaced by a re-serialization). */
  release(): void {
    while (this.blocks.length > 0) {
      const b = this.blocks[this.blocks.length - 1]!;
      while (b.folios.length > 0) {
        const f = b.folios[b.folios.length - 1]!;
        this.kho.unpreserveFolio(f.phys, f.order);
        this.kernel.freePages(f.phys, f.order);
        b.folios.pop();
      }
      this.blocks.pop();
    }
  }
}

/**
 * Read-only `SchemaMemory` over handover data in the new kernel: only the given ranges (the
 * folios the old kernel listed for one object, each checked to be preserved with that order) may
 * be read, so a decode can never follow a pointer into another object's memory.
 *
 * @internal
 */
export class HandoverReader implements SchemaMemory {
  private readonly ranges: readonly PhysRange[];

  /**
   * @param memory - physical memory.
   * @param ranges - the readable ranges.
   * @param owned - `ranges` is a fresh array sorted by base, kept as is (no copy).
   */
  constructor(
    private readonly memory: PhysicalMemory,
    ranges: readonly PhysRange[],
    owned = false,
  ) {
    this.ranges = owned ? ranges : [...ranges].sort((a, b) => a.base - b.base);
  }

  /**
   * A reader of the data folios (`data: true`) of one object's folio list. The usual list holds a
   * single data folio: then no range list is built.
   */
  static ofDataFolios(
    memory: PhysicalMemory,
    folios: readonly { phys: number; order: number; data: boolean }[],
  ): HandoverReader {
    let single: { phys: number; order: number } | undefined;
    let count = 0;
    for (let i = 0; i < folios.length; i++) {
      if (!folios[i]!.data) continue;
      single = folios[i];
      count++;
    }
    if (count === 1)
      return new HandoverReader(memory, [{ base: single!.phys, size: folioBytes(single!.order) }], true);
    const ranges: PhysRange[] = [];
    for (let i = 0; i < folios.length; i++) {
      const f = folios[i]!;
      if (f.data) ranges.push({ base: f.phys, size: folioBytes(f.order) });
    }
    return new HandoverReader(
      memory,
      ranges.sort((a, b) => a.base - b.base),
      true,
    );
  }

  read(phys: number, length: number): Uint8Array {
    // The codec does not keep what it reads: a view avoids a copy per decoded struct.
    return this.memory.peek(phys, length);
  }

  write(): void {
    throw new LuoReadOnlyMemoryError("write");
  }

  allocate(): number {
    throw new LuoReadOnlyMemoryError("allocate");
  }

  isPreserved(phys: number, length: number): boolean {
    if (!Number.isSafeInteger(phys) || !Number.isSafeInteger(length) || length <= 0) return false;
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.ranges[mid]!;
      if (phys < r.base) hi = mid - 1;
      else if (phys >= r.base + r.size) lo = mid + 1;
      else {
        // A value may straddle two adjacent folios.
        let end = r.base + r.size;
        let i = mid + 1;
        while (phys + length > end && i < this.ranges.length && this.ranges[i]!.base === end) {
          end += this.ranges[i]!.size;
          i++;
        }
        return phys + length <= end;
      }
    }
    return false;
  }
}

/** Bytes of a folio of `order`. */
export function folioBytes(order: number): number {
  // Integer shift for every page order (a power via `**` is a float operation on a hot path).
  return order >= 0 && order <= 18 ? PAGE_SIZE << order : PAGE_SIZE * 2 ** order;
}

/** Splits a page range into the natural folios `kho_preserve_pages` would use. */
export function pagesToFolios(phys: PhysAddr, nrPages: number): PreservedFolio[] {
  return splitIntoFolios(phys, nrPages * PAGE_SIZE);
}
