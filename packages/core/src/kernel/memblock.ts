import { alignDown, type PhysAddr, type PhysRange } from "../hw/units.js";
import { BadAllocationError, OutOfMemoryError } from "./errors.js";
import { mergeRanges, subtractRanges } from "./ranges.js";

/** One early reservation, labelled with who made it. */
export interface MemblockReservation extends PhysRange {
  /** Owner, e.g. `"kernel-image"`, `"memmap"`, `"kho-scratch"`, `"kho-preserved"`. */
  readonly label: string;
}

/**
 * The boot-time allocator (mirrors `memblock`): hands out physical ranges top-down from the memory
 * it may use, and records reservations that the page allocator must later leave alone.
 *
 * On a KHO boot the kernel starts in *scratch-only* mode (`memblock_set_kho_scratch_only`): the
 * only usable memory is the scratch areas, because everything else may hold preserved data that
 * has not been read yet.
 */
export class Memblock {
  private readonly reservations: MemblockReservation[] = [];
  /** Reservations of one label sorted by base, for {@link Memblock.isReservedAs}. */
  private readonly byLabel = new Map<string, MemblockReservation[]>();
  private usable: PhysRange[];
  private scratchOnly: boolean;
  private readonly allMemory: PhysRange[];

  /**
   * @param memory - all RAM.
   * @param scratch - when given, allocation is confined to these ranges until {@link Memblock.clearScratchOnly}.
   */
  constructor(memory: readonly PhysRange[], scratch?: readonly PhysRange[]) {
    this.allMemory = mergeRanges(memory);
    this.scratchOnly = scratch !== undefined;
    this.usable = scratch !== undefined ? mergeRanges(scratch) : this.allMemory;
  }

  /** True while only scratch memory may be allocated. */
  isScratchOnly(): boolean {
    return this.scratchOnly;
  }

  /**
   * Confines allocation to `scratch` (mirrors `memblock_set_kho_scratch_only`); called by KHO on a
   * handover boot before anything else is allocated.
   */
  setScratchOnly(scratch: readonly PhysRange[]): void {
    this.scratchOnly = true;
    this.usable = mergeRanges(scratch);
  }

  /** Lifts the scratch-only restriction (the handover has been processed). */
  clearScratchOnly(): void {
    this.scratchOnly = false;
    this.usable = this.allMemory;
  }

  /**
   * Allocates `size` bytes aligned to `align`, top-down, optionally below `limit`
   * (mirrors `memblock_phys_alloc_range`).
   *
   * @throws {@link OutOfMemoryError} when nothing fits.
   */
  alloc(size: number, align: number, label: string, limit = Number.MAX_SAFE_INTEGER): PhysAddr {
    if (!Number.isSafeInteger(size) || size <= 0) throw new BadAllocationError("memblock size", size);
    const free = subtractRanges(this.usable, this.reservations).reverse();
    for (const range of free) {
      const top = Math.min(range.base + range.size, limit);
      const base = alignDown(top - size, align);
      if (base >= range.base) {
        this.reservations.push({ base, size, label });
        this.byLabel.delete(label);
        return base;
      }
    }
    throw new OutOfMemoryError(
      "memblock",
      size,
      this.scratchOnly ? "only scratch memory may be used before the KHO handover is processed" : label,
    );
  }

  /** Records `[base, base + size)` as reserved (mirrors `memblock_reserve`). */
  reserve(base: PhysAddr, size: number, label: string): void {
    this.reservations.push({ base, size, label });
    this.byLabel.delete(label);
  }

  /** All reservations, in the order they were made. */
  reserved(): readonly MemblockReservation[] {
    return this.reservations;
  }

  /** Sum of reserved bytes below `limit` with one of `labels` (all labels when omitted). */
  reservedBytes(limit = Number.MAX_SAFE_INTEGER, labels?: readonly string[]): number {
    let total = 0;
    for (const r of this.reservations) {
      if (labels !== undefined && !labels.includes(r.label)) continue;
      total += Math.max(0, Math.min(r.base + r.size, limit) - r.base);
    }
    return total;
  }

  /** True when the range lies inside one reservation labelled `label`. */
  isReservedAs(base: PhysAddr, size: number, label: string): boolean {
    // Binary search in the label's reservations sorted by base (built on first use after a change):
    // a KHO boot checks every restored folio against thousands of preserved runs.
    let index = this.byLabel.get(label);
    if (index === undefined) {
      index = this.reservations.filter((r) => r.label === label).sort((a, b) => a.base - b.base);
      this.byLabel.set(label, index);
    }
    let lo = 0;
    let hi = index.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = index[mid]!;
      if (r.base <= base) {
        if (base + size <= r.base + r.size) return true;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    // Reservations of one label may overlap: fall back to a scan when the nearest one does not contain it.
    for (let i = 0; i < index.length && index[i]!.base <= base; i++) {
      const r = index[i]!;
      if (base + size <= r.base + r.size) return true;
    }
    return false;
  }

  /** True when the range lies inside one reservation, ignoring reservations labelled in `except`. */
  isReserved(base: PhysAddr, size: number, except: readonly string[] = []): boolean {
    for (const r of this.reservations) {
      if (base >= r.base && base + size <= r.base + r.size && !except.includes(r.label)) return true;
    }
    return false;
  }
}
