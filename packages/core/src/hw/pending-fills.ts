/**
 * Fills of one memory section not applied yet: sorted, disjoint `[start, end)` offset ranges, each
 * with the byte it reads as. {@link PhysicalMemory} records partial-section fills (kexec poisoning
 * around preserved pages, page zeroing) here and applies a range only when something reads it;
 * a write over a pending range simply drops it. So poisoning costs what is later touched, not the
 * size of every partly preserved section.
 *
 * @internal
 */
export class PendingFills {
  private starts: number[] = [];
  private ends: number[] = [];
  private bytes: number[] = [];

  /** Number of pending ranges. */
  get size(): number {
    return this.starts.length;
  }

  /** Whether nothing is pending. */
  get empty(): boolean {
    return this.starts.length === 0;
  }

  /** Index of the first range ending after `offset`. */
  private firstEndingAfter(offset: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid]! <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Whether a pending range intersects `[start, end)`. */
  overlaps(start: number, end: number): boolean {
    const i = this.firstEndingAfter(start);
    return i < this.starts.length && this.starts[i]! < end;
  }

  /**
   * Removes `[start, end)` from the pending ranges. With `target`, the removed parts are applied
   * to it first (a read); without, they are dropped (a write covers them).
   */
  cut(start: number, end: number, target?: Uint8Array): void {
    const first = this.firstEndingAfter(start);
    let last = first;
    while (last < this.starts.length && this.starts[last]! < end) last++;
    if (last === first) return;
    const starts: number[] = [];
    const ends: number[] = [];
    const bytes: number[] = [];
    for (let i = first; i < last; i++) {
      const a = this.starts[i]!;
      const b = this.ends[i]!;
      const byte = this.bytes[i]!;
      target?.fill(byte, Math.max(a, start), Math.min(b, end));
      if (a < start) {
        starts.push(a);
        ends.push(start);
        bytes.push(byte);
      }
      if (b > end) {
        starts.push(end);
        ends.push(b);
        bytes.push(byte);
      }
    }
    this.starts.splice(first, last - first, ...starts);
    this.ends.splice(first, last - first, ...ends);
    this.bytes.splice(first, last - first, ...bytes);
  }

  /** Records that the parts of `[start, end)` with nothing pending read as `byte` (a fill underneath). */
  fillGaps(start: number, end: number, byte: number): void {
    const starts: number[] = [];
    const ends: number[] = [];
    const bytes: number[] = [];
    let cursor = start;
    for (let i = 0; i < this.starts.length; i++) {
      const a = this.starts[i]!;
      if (cursor < Math.min(a, end)) {
        starts.push(cursor);
        ends.push(Math.min(a, end));
        bytes.push(byte);
      }
      starts.push(a);
      ends.push(this.ends[i]!);
      bytes.push(this.bytes[i]!);
      cursor = Math.max(cursor, this.ends[i]!);
    }
    if (cursor < end) {
      starts.push(cursor);
      ends.push(end);
      bytes.push(byte);
    }
    this.starts = starts;
    this.ends = ends;
    this.bytes = bytes;
  }

  /** Records that `[start, end)` reads as `byte` (replacing what was pending there). */
  add(start: number, end: number, byte: number): void {
    if (end <= start) return;
    this.cut(start, end);
    const i = this.firstEndingAfter(start);
    // Joins a neighbour of the same byte (kexec poisoning adds ranges in address order).
    if (i > 0 && this.ends[i - 1] === start && this.bytes[i - 1] === byte) {
      this.ends[i - 1] = end;
      if (i < this.starts.length && this.starts[i] === end && this.bytes[i] === byte) {
        this.ends[i - 1] = this.ends[i]!;
        this.starts.splice(i, 1);
        this.ends.splice(i, 1);
        this.bytes.splice(i, 1);
      }
      return;
    }
    if (i < this.starts.length && this.starts[i] === end && this.bytes[i] === byte) {
      this.starts[i] = start;
      return;
    }
    if (i === this.starts.length) {
      this.starts.push(start);
      this.ends.push(end);
      this.bytes.push(byte);
      return;
    }
    this.starts.splice(i, 0, start);
    this.ends.splice(i, 0, end);
    this.bytes.splice(i, 0, byte);
  }
}
