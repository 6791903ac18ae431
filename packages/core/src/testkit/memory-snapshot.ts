import { hex } from "../common/errors.js";
import { SECTION_SIZE } from "../hw/physical-memory.js";
import { PAGE_SIZE, type PhysRange } from "../hw/units.js";
import type { LiveUpdateKernel } from "../luo/boot.js";

interface SectionCopy {
  readonly bytes: Uint8Array;
  /** One entry per page of the section: 1 when the page was in use (allocated or reserved). */
  readonly inUse: Uint8Array;
}

const PAGES_PER_SECTION = SECTION_SIZE / PAGE_SIZE;

/**
 * What a running kernel's memory looked like at one moment, for checking that something (a
 * cancelled update) left it exactly as it was:
 * - the content of every page that was in use (allocated or reserved) in a section that had been
 *   written — the memory objects live in (pages never written hold no object state);
 * - the KHO preservations, finalize state and subtrees;
 * - the bytes owned by the page allocator's users (free bytes, with KHO's preservation bitmaps,
 *   which KHO keeps once allocated, counted as free).
 *
 * @example
 * ```ts
 * const before = MemorySnapshot.take(lk);
 * lk.kernel.kexecLoad(next);
 * lk.luo.prepare();
 * lk.luo.cancel();
 * expect(before.compare(lk)).toEqual([]);
 * ```
 */
export class MemorySnapshot {
  private constructor(
    private readonly sections: ReadonlyMap<number, SectionCopy>,
    private readonly preserved: readonly string[],
    private readonly ownedBytes: number,
    private readonly finalized: boolean,
    private readonly subtrees: readonly string[],
    private readonly exclude: readonly PhysRange[],
  ) {}

  /**
   * Takes a snapshot of `lk`'s memory. Cost: a copy of every written 2 MiB section.
   *
   * @param lk - a running live-update kernel.
   * @param options - `exclude`: ranges whose content may legitimately change (e.g. KHO's root FDT
   *   page, rewritten at every finalize).
   */
  static take(
    lk: LiveUpdateKernel,
    options: { readonly exclude?: readonly PhysRange[] } = {},
  ): MemorySnapshot {
    const sections = new Map<number, SectionCopy>();
    for (const { base, bytes } of lk.machine.memory.backedSections()) {
      const inUse = new Uint8Array(PAGES_PER_SECTION);
      for (let p = 0; p < PAGES_PER_SECTION; p++) {
        const phys = base + p * PAGE_SIZE;
        if (lk.machine.memoryMap.isRam(phys, PAGE_SIZE) && lk.kernel.isInUse(phys, PAGE_SIZE)) inUse[p] = 1;
      }
      sections.set(base, { bytes: bytes.slice(), inUse });
    }
    return new MemorySnapshot(
      sections,
      preservedList(lk),
      ownedBytes(lk),
      lk.kho.outgoing.isFinalized,
      lk.kho.outgoing.subtreeNames(),
      options.exclude ?? [],
    );
  }

  /**
   * The differences between the snapshot and `lk`'s memory now, as readable lines (empty when
   * nothing changed). At most `limit` page differences are listed.
   *
   * @param lk - the same kernel, later.
   * @param limit - most page differences to list (default 8).
   */
  compare(lk: LiveUpdateKernel, limit = 8): string[] {
    const out: string[] = [];
    const preserved = preservedList(lk);
    const added = preserved.filter((f) => !this.preserved.includes(f));
    const removed = this.preserved.filter((f) => !preserved.includes(f));
    if (added.length > 0) out.push(`still preserved (KHO): ${added.slice(0, limit).join(", ")}`);
    if (removed.length > 0) out.push(`no longer preserved (KHO): ${removed.slice(0, limit).join(", ")}`);
    if (lk.kho.outgoing.isFinalized !== this.finalized) {
      out.push(`KHO is ${lk.kho.outgoing.isFinalized ? "still finalized" : "no longer finalized"}`);
    }
    const subtrees = lk.kho.outgoing.subtreeNames();
    if (subtrees.join("\n") !== this.subtrees.join("\n")) {
      out.push(`KHO subtrees are [${subtrees.join(", ")}], were [${this.subtrees.join(", ")}]`);
    }
    const owned = ownedBytes(lk);
    if (owned !== this.ownedBytes) {
      const delta = this.ownedBytes - owned;
      out.push(
        delta > 0
          ? `${delta} bytes of memory were allocated and not freed (leak)`
          : `${-delta} bytes more are free than before (something freed memory it did not allocate)`,
      );
    }
    const memory = lk.machine.memory;
    let pages = 0;
    for (const [base, before] of this.sections) {
      const now = memory.read(base, SECTION_SIZE);
      for (let p = 0; p < PAGES_PER_SECTION; p++) {
        if (before.inUse[p] === 0) continue;
        const phys = base + p * PAGE_SIZE;
        const offset = p * PAGE_SIZE;
        if (this.exclude.some((r) => phys >= r.base && phys < r.base + r.size)) continue;
        if (!lk.kernel.isInUse(phys, PAGE_SIZE)) {
          if (pages++ < limit) out.push(`page ${hex(phys)} was in use and is free now`);
          continue;
        }
        for (let i = offset; i < offset + PAGE_SIZE; i++) {
          if (now[i] !== before.bytes[i]) {
            if (pages++ < limit) {
              out.push(
                `page ${hex(phys)} changed: first difference at +${hex(i - offset)} (${hex(before.bytes[i]!)} → ${hex(now[i]!)})`,
              );
            }
            break;
          }
        }
      }
    }
    if (pages > limit) out.push(`… and ${pages - limit} more page(s)`);
    return out;
  }
}

function preservedList(lk: LiveUpdateKernel): string[] {
  return [...lk.kho.outgoing.preservedFolios()].map((f) => `${hex(f.phys)}/${f.order}`).sort();
}

function ownedBytes(lk: LiveUpdateKernel): number {
  return lk.kernel.freeBytes() + lk.kho.outgoing.stats().bitmapPages * PAGE_SIZE;
}
