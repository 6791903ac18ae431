import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { errorCode, InMemorySchemaMemory, RangeSet } from "./helpers.js";

describe("RangeSet", () => {
  it("merges, covers, overlaps and removes like a bitmap would", () => {
    const op = fc.record({
      add: fc.boolean(),
      start: fc.integer({ min: 0, max: 200 }),
      len: fc.integer({ min: 0, max: 40 }),
    });
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 30 }),
        fc.integer({ min: 0, max: 240 }),
        fc.integer({ min: 0, max: 30 }),
        (ops, qs, ql) => {
          const set = new RangeSet();
          const bits = new Array<boolean>(260).fill(false);
          for (const o of ops) {
            if (o.add) set.add(o.start, o.start + o.len);
            else set.remove(o.start, o.start + o.len);
            for (let i = o.start; i < o.start + o.len; i++) bits[i] = o.add;
          }
          const slice = bits.slice(qs, qs + ql);
          expect(set.covers(qs, ql)).toBe(slice.every((b) => b));
          expect(set.overlaps(qs, ql)).toBe(slice.some((b) => b));
          const ranges = set.toArray();
          for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThan(ranges[i - 1]![1]);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("InMemorySchemaMemory", () => {
  it("allocates aligned, preserved, zeroed memory and reads back writes across pages", () => {
    const memory = new InMemorySchemaMemory({ base: 0x1000 });
    const a = memory.allocate(10, 1);
    const b = memory.allocate(8192, 4096);
    expect(a).toBe(0x1000);
    expect(b % 4096).toBe(0);
    expect(memory.isPreserved(b, 8192)).toBe(true);
    expect(memory.isPreserved(a + 10, 1)).toBe(false);
    expect(memory.read(b, 16)).toEqual(new Uint8Array(16));
    const data = Uint8Array.from({ length: 5000 }, (_, i) => i & 0xff);
    memory.write(b + 100, data);
    expect(memory.read(b + 100, 5000)).toEqual(data);
    memory.unpreserve(b, 1);
    expect(memory.isPreserved(b, 2)).toBe(false);
    memory.preserve(b, 1);
    expect(memory.isPreserved(b, 8192)).toBe(true);
    expect(memory.allocatedBytes).toBe(b + 8192 - 0x1000);
  });

  it("refuses invalid requests with typed errors", () => {
    const memory = new InMemorySchemaMemory({ limit: 100 });
    expect(errorCode(() => memory.allocate(0, 8))).toBe("SCHEMA_MEMORY");
    expect(errorCode(() => memory.allocate(8, 3))).toBe("SCHEMA_MEMORY");
    expect(errorCode(() => memory.allocate(200, 8))).toBe("SCHEMA_MEMORY");
    expect(errorCode(() => memory.read(-1, 4))).toBe("SCHEMA_MEMORY");
    expect(errorCode(() => memory.read(2 ** 53, 4))).toBe("SCHEMA_MEMORY");
    expect(errorCode(() => new InMemorySchemaMemory({ base: 0 }))).toBe("SCHEMA_MEMORY");
    expect(memory.isPreserved(Number.NaN, 1)).toBe(false);
  });
});
