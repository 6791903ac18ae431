import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  EXTENT_SIZE,
  ExtentAllocator,
  type ExtentRun,
  extentCount,
  GuestmemfsNoSpaceError,
} from "../src/index.js";

const BASE = 0x4000_0000;

/** Every extent index a list of runs covers. */
function indices(runs: readonly ExtentRun[]): number[] {
  return runs.flatMap((r) => Array.from({ length: r.count }, (_, i) => (r.phys - BASE) / EXTENT_SIZE + i));
}

type Op = { kind: "alloc"; count: number } | { kind: "free"; pick: number };
const ops = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant("alloc" as const), count: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
  ),
  { maxLength: 60 },
);

describe("ExtentAllocator", () => {
  it("never hands out an extent twice, stays inside the region and keeps its count (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 128 }), ops, (extents, script: Op[]) => {
        const a = new ExtentAllocator(BASE, extents);
        const live: ExtentRun[][] = [];
        for (const op of script) {
          if (op.kind === "alloc") {
            if (op.count > a.freeCount) {
              expect(() => a.alloc(op.count)).toThrow(GuestmemfsNoSpaceError);
              continue;
            }
            const runs = a.alloc(op.count);
            expect(extentCount(runs)).toBe(op.count);
            live.push(runs);
          } else if (live.length > 0) {
            a.release(live.splice(op.pick % live.length, 1)[0]!);
          }
          const used = live.flatMap(indices);
          expect(new Set(used).size).toBe(used.length); // no overlap
          expect(used.every((i) => i >= 0 && i < extents)).toBe(true);
          const free = indices(a.freeRuns());
          expect(free.some((i) => used.includes(i))).toBe(false);
          expect(free.length + used.length).toBe(extents);
          expect(a.freeCount).toBe(free.length);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("coalesces frees: releasing everything in any order leaves one run, and the whole region is usable (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.integer({ min: 1, max: 16 }), { maxLength: 40 }),
        fc.nat(),
        (extents, sizes, seed) => {
          const a = new ExtentAllocator(BASE, extents);
          const live: ExtentRun[][] = [];
          for (const n of sizes) if (n <= a.freeCount) live.push(a.alloc(n));
          // Release in a shuffled order.
          let s = seed;
          while (live.length > 0) {
            s = (s * 1103515245 + 12345) >>> 0;
            a.release(live.splice(s % live.length, 1)[0]!);
          }
          expect(a.freeRuns()).toEqual([{ phys: BASE, count: extents }]);
          const all = a.alloc(extents);
          expect(all).toEqual([{ phys: BASE, count: extents }]);
          expect(() => a.alloc(1)).toThrow(GuestmemfsNoSpaceError);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("claims exact runs all-or-nothing and reports the first one that is taken", () => {
    const a = new ExtentAllocator(BASE, 16);
    expect(a.claim([{ phys: BASE + 2 * EXTENT_SIZE, count: 3 }])).toBe(-1);
    const before = a.freeRuns();
    expect(
      a.claim([
        { phys: BASE + 8 * EXTENT_SIZE, count: 2 },
        { phys: BASE + 4 * EXTENT_SIZE, count: 1 },
      ]),
    ).toBe(1);
    expect(a.freeRuns()).toEqual(before);
    expect(a.claim([{ phys: BASE + 15 * EXTENT_SIZE, count: 2 }])).toBe(0); // past the end
    expect(a.claim([{ phys: BASE + 1, count: 1 }])).toBe(0); // unaligned
    expect(() => a.release([{ phys: BASE, count: 1 }])).toThrow(/free already/);
  });
});
