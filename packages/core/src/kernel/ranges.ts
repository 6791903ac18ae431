import type { PhysRange } from "../hw/units.js";

/** Sorts ranges by base and merges overlapping or touching ones. */
export function mergeRanges(ranges: readonly PhysRange[]): PhysRange[] {
  const sorted = ranges.filter((r) => r.size > 0).sort((a, b) => a.base - b.base);
  const out: Array<{ base: number; size: number }> = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.base <= last.base + last.size) {
      last.size = Math.max(last.size, r.base + r.size - last.base);
    } else {
      out.push({ base: r.base, size: r.size });
    }
  }
  return out;
}

/** `from` minus every range in `holes`, as sorted disjoint ranges. */
export function subtractRanges(from: readonly PhysRange[], holes: readonly PhysRange[]): PhysRange[] {
  const merged = mergeRanges(holes);
  const out: PhysRange[] = [];
  for (const range of mergeRanges(from)) {
    let cursor = range.base;
    const end = range.base + range.size;
    for (const hole of merged) {
      const holeEnd = hole.base + hole.size;
      if (holeEnd <= cursor || hole.base >= end) continue;
      if (hole.base > cursor) out.push({ base: cursor, size: hole.base - cursor });
      cursor = Math.max(cursor, holeEnd);
    }
    if (cursor < end) out.push({ base: cursor, size: end - cursor });
  }
  return out;
}

/** True when `[base, base+size)` overlaps any of `ranges`. */
export function overlapsAny(base: number, size: number, ranges: readonly PhysRange[]): boolean {
  for (const r of ranges) if (base < r.base + r.size && base + size > r.base) return true;
  return false;
}

/** True when `[base, base+size)` lies entirely inside one of `ranges`. */
export function insideAny(base: number, size: number, ranges: readonly PhysRange[]): boolean {
  for (const r of ranges) if (base >= r.base && base + size <= r.base + r.size) return true;
  return false;
}
