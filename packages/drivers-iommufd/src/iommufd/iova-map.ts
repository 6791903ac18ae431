/**
 * The IOVA space of one IOAS: disjoint areas sorted by IOVA (iommufd's `io_pagetable` area tree).
 *
 * @module
 */

/** Anything that occupies `[iova, iova + length)`. */
export interface IovaRange {
  /** First IOVA. */
  readonly iova: number;
  /** Bytes. */
  readonly length: number;
}

/**
 * Disjoint ranges sorted by IOVA, with binary-search lookup. Appending above the last area (the
 * common case of a VMM mapping guest RAM in order) is O(1).
 *
 * @typeParam A - the area type.
 */
export class IovaMap<A extends IovaRange> {
  private readonly list: A[] = [];

  /** Number of areas. */
  get size(): number {
    return this.list.length;
  }

  /** Areas in IOVA order (do not mutate). */
  get areas(): readonly A[] {
    return this.list;
  }

  /** Index of the first area whose end is above `iova`. */
  private firstEndingAbove(iova: number): number {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const a = this.list[mid]!;
      if (a.iova + a.length <= iova) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The first area overlapping `[iova, iova + length)`, if any. */
  overlapping(iova: number, length: number): A | undefined {
    const a = this.list[this.firstEndingAbove(iova)];
    return a !== undefined && a.iova < iova + length ? a : undefined;
  }

  /** The area containing `iova`, if any. */
  at(iova: number): A | undefined {
    return this.overlapping(iova, 1);
  }

  /** Inserts an area; the caller checked it overlaps nothing. */
  insert(area: A): void {
    const last = this.list[this.list.length - 1];
    if (last === undefined || last.iova + last.length <= area.iova) this.list.push(area);
    else this.list.splice(this.firstEndingAbove(area.iova), 0, area);
  }

  /** The areas overlapping `[iova, iova + length)`, in order. */
  within(iova: number, length: number): A[] {
    const out: A[] = [];
    for (let i = this.firstEndingAbove(iova); i < this.list.length; i++) {
      const a = this.list[i]!;
      if (a.iova >= iova + length) break;
      out.push(a);
    }
    return out;
  }

  /** Removes `area` (by identity). */
  remove(area: A): void {
    const i = this.list.indexOf(area, this.firstEndingAbove(area.iova));
    if (i >= 0) this.list.splice(i, 1);
  }
}
