/**
 * A set of disjoint half-open integer ranges `[start, end)`, kept sorted and merged. Lookups are
 * binary searches.
 *
 * @example
 * ```ts
 * const set = new RangeSet();
 * set.add(0x1000, 0x2000);
 * set.covers(0x1800, 0x100); // true
 * ```
 */
export class RangeSet {
  private starts: number[] = [];
  private ends: number[] = [];

  /** Number of disjoint ranges. */
  get size(): number {
    return this.starts.length;
  }

  /** Index of the last range whose start is `<= at`, or -1. */
  private floor(at: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! <= at) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /**
   * Adds `[start, end)`, merging with touching or overlapping ranges.
   *
   * @param start - first address.
   * @param end - one past the last address.
   */
  add(start: number, end: number): void {
    if (end <= start) return;
    let i = this.floor(start);
    if (i >= 0 && this.ends[i]! >= start) {
      start = this.starts[i]!;
      end = Math.max(end, this.ends[i]!);
    } else {
      i += 1;
    }
    let j = i;
    while (j < this.starts.length && this.starts[j]! <= end) {
      end = Math.max(end, this.ends[j]!);
      j++;
    }
    // In place when possible: `splice` allocates, and decoders add a range per pointee.
    if (j === i + 1) {
      this.starts[i] = start;
      this.ends[i] = end;
    } else if (j === i && i === this.starts.length) {
      this.starts.push(start);
      this.ends.push(end);
    } else {
      this.starts.splice(i, j - i, start);
      this.ends.splice(i, j - i, end);
    }
  }

  /**
   * Removes `[start, end)` from the set.
   *
   * @param start - first address.
   * @param end - one past the last address.
   */
  remove(start: number, end: number): void {
    if (end <= start) return;
    const starts: number[] = [];
    const ends: number[] = [];
    for (let k = 0; k < this.starts.length; k++) {
      const s = this.starts[k]!;
      const e = this.ends[k]!;
      if (e <= start || s >= end) {
        starts.push(s);
        ends.push(e);
        continue;
      }
      if (s < start) {
        starts.push(s);
        ends.push(start);
      }
      if (e > end) {
        starts.push(end);
        ends.push(e);
      }
    }
    this.starts = starts;
    this.ends = ends;
  }

  /**
   * Whether `[start, start + length)` lies entirely inside one range (an empty range is covered).
   *
   * @param start - first address.
   * @param length - number of addresses.
   */
  covers(start: number, length: number): boolean {
    if (length <= 0) return true;
    const i = this.floor(start);
    return i >= 0 && this.ends[i]! >= start + length;
  }

  /**
   * Whether `[start, start + length)` intersects any range.
   *
   * @param start - first address.
   * @param length - number of addresses.
   */
  overlaps(start: number, length: number): boolean {
    if (length <= 0) return false;
    const i = this.floor(start + length - 1);
    return i >= 0 && this.ends[i]! > start;
  }

  /** The ranges as `[start, end)` pairs, in order. */
  toArray(): [number, number][] {
    return this.starts.map((s, k) => [s, this.ends[k]!]);
  }
}
