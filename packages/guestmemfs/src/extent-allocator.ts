import { EXTENT_SIZE } from "./abi.js";
import { GuestmemfsNoSpaceError, GuestmemfsRangeError } from "./errors.js";

/** A run of physically contiguous extents: `count` extents of 2 MiB from `phys`. */
export interface ExtentRun {
  /** Physical address of the first extent (2 MiB aligned). */
  readonly phys: number;
  /** Number of extents (≥ 1). */
  readonly count: number;
}

/**
 * Hands out 2 MiB extents of the carved region. Free space is a sorted list of disjoint,
 * non-touching runs (frees coalesce with their neighbours), so cost follows the number of runs,
 * not the number of extents. Allocation prefers one run that fits (first fit, lowest address) and
 * otherwise gathers runs from the lowest address up.
 */
export class ExtentAllocator {
  /** Free runs as [first extent index, count], sorted, disjoint and never touching. */
  private free: Array<[number, number]>;
  private freeExtents: number;

  /**
   * @param base - physical base of the region (2 MiB aligned).
   * @param extents - number of extents in the region.
   */
  constructor(
    readonly base: number,
    readonly extents: number,
  ) {
    this.free = extents > 0 ? [[0, extents]] : [];
    this.freeExtents = extents;
  }

  /**
   * An allocator over the same kind of region with nothing free yet: runs enter it by
   * {@link ExtentAllocator.release} (the file system keeps the extents a previous kernel handed
   * over in one, until files claim them).
   */
  static empty(base: number, extents: number): ExtentAllocator {
    const allocator = new ExtentAllocator(base, extents);
    allocator.free = [];
    allocator.freeExtents = 0;
    return allocator;
  }

  /** Extents currently free. */
  get freeCount(): number {
    return this.freeExtents;
  }

  /** The free runs, lowest address first. */
  freeRuns(): ExtentRun[] {
    return this.free.map(([start, count]) => ({ phys: this.base + start * EXTENT_SIZE, count }));
  }

  /** True when `[phys, phys + count × 2 MiB)` lies inside the region on extent boundaries. */
  contains(phys: number, count: number): boolean {
    const index = (phys - this.base) / EXTENT_SIZE;
    return (
      Number.isInteger(index) &&
      index >= 0 &&
      Number.isInteger(count) &&
      count >= 1 &&
      index + count <= this.extents
    );
  }

  /**
   * Allocates `count` extents.
   *
   * @returns the runs, lowest address first.
   * @throws {@link GuestmemfsNoSpaceError} (nothing is taken) when fewer are free.
   */
  alloc(count: number): ExtentRun[] {
    if (!Number.isSafeInteger(count) || count < 0)
      throw new GuestmemfsRangeError(`extent count ${count}`, { count });
    if (count === 0) return [];
    if (count > this.freeExtents) {
      throw new GuestmemfsNoSpaceError(`no space: ${count} extents asked, ${this.freeExtents} free`, {
        extents: count,
        free: this.freeExtents,
      });
    }
    const fit = this.free.findIndex(([, n]) => n >= count);
    const out: ExtentRun[] = [];
    if (fit >= 0) {
      const run = this.free[fit]!;
      out.push({ phys: this.base + run[0] * EXTENT_SIZE, count });
      if (run[1] === count) this.free.splice(fit, 1);
      else this.free[fit] = [run[0] + count, run[1] - count];
    } else {
      let left = count;
      while (left > 0) {
        const run = this.free[0]!;
        const take = Math.min(left, run[1]);
        out.push({ phys: this.base + run[0] * EXTENT_SIZE, count: take });
        if (take === run[1]) this.free.shift();
        else this.free[0] = [run[0] + take, run[1] - take];
        left -= take;
      }
    }
    this.freeExtents -= count;
    return out;
  }

  /**
   * Returns runs to the free list, coalescing with neighbours.
   *
   * @throws {@link GuestmemfsRangeError} when a run is outside the region or (partly) free already.
   */
  release(runs: readonly ExtentRun[]): void {
    for (const run of runs) {
      if (!this.contains(run.phys, run.count))
        throw new GuestmemfsRangeError(`run ${run.phys}+${run.count} is not in the region`, { ...run });
      const start = (run.phys - this.base) / EXTENT_SIZE;
      const at = this.insertionPoint(start);
      const prev = this.free[at - 1];
      const next = this.free[at];
      if (
        (prev !== undefined && prev[0] + prev[1] > start) ||
        (next !== undefined && start + run.count > next[0])
      ) {
        throw new GuestmemfsRangeError(`run ${run.phys}+${run.count} is free already`, { ...run });
      }
      const joinPrev = prev !== undefined && prev[0] + prev[1] === start;
      const joinNext = next !== undefined && start + run.count === next[0];
      if (joinPrev && joinNext) {
        prev[1] += run.count + next[1];
        this.free.splice(at, 1);
      } else if (joinPrev) prev[1] += run.count;
      else if (joinNext) this.free[at] = [start, run.count + next[1]];
      else this.free.splice(at, 0, [start, run.count]);
      this.freeExtents += run.count;
    }
  }

  /**
   * Takes exactly these runs out of the free list (a restored file claims the extents it had).
   * All or nothing.
   *
   * @returns the index of the first run that is not entirely free (shared with a file claimed
   *   before, or outside the region), or -1 when every run was claimed.
   */
  claim(runs: readonly ExtentRun[]): number {
    const claimed: ExtentRun[] = [];
    for (let i = 0; i < runs.length; i++) {
      const run = runs[i]!;
      if (!this.contains(run.phys, run.count) || !this.takeExact(run)) {
        // Undo: a partial claim must leave the allocator as it was.
        if (claimed.length > 0) this.release(claimed);
        return i;
      }
      claimed.push(run);
    }
    return -1;
  }

  /** Index of the first free run starting after `start`. */
  private insertionPoint(start: number): number {
    let lo = 0;
    let hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.free[mid]![0] <= start) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private takeExact(run: ExtentRun): boolean {
    const start = (run.phys - this.base) / EXTENT_SIZE;
    const at = this.insertionPoint(start) - 1;
    const host = this.free[at];
    if (host === undefined || host[0] + host[1] < start + run.count) return false;
    const before: [number, number] = [host[0], start - host[0]];
    const after: [number, number] = [start + run.count, host[0] + host[1] - start - run.count];
    this.free.splice(at, 1, ...[before, after].filter(([, n]) => n > 0));
    this.freeExtents -= run.count;
    return true;
  }
}

/** Total extents of a list of runs. */
export function extentCount(runs: readonly ExtentRun[]): number {
  let n = 0;
  for (const run of runs) n += run.count;
  return n;
}
