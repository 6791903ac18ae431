import {
  BadAllocationError,
  BadFreeError,
  BuddyAllocator,
  MAX_PAGE_ORDER,
  MiB,
  OutOfMemoryError,
  PAGE_SIZE,
} from "@liveupdate/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const REGION = { base: 3 * MiB, size: 61 * MiB + 5 * PAGE_SIZE };

type Op = { kind: "alloc"; order: number } | { kind: "free"; pick: number };

const operations = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant("alloc" as const), order: fc.integer({ min: 0, max: MAX_PAGE_ORDER }) }),
    fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
  ),
  { maxLength: 300 },
);

describe("BuddyAllocator", () => {
  it("never hands out overlapping, misaligned or unmanaged blocks, and frees coalesce back", () => {
    fc.assert(
      fc.property(operations, (ops: Op[]) => {
        const buddy = new BuddyAllocator([REGION]);
        const initial = buddy.freeBlockCounts();
        const live: Array<{ phys: number; order: number }> = [];
        for (const op of ops) {
          if (op.kind === "alloc") {
            let phys: number;
            try {
              phys = buddy.alloc(op.order);
            } catch (error) {
              expect(error).toBeInstanceOf(OutOfMemoryError);
              continue;
            }
            const size = PAGE_SIZE * 2 ** op.order;
            expect(phys % size).toBe(0);
            expect(phys).toBeGreaterThanOrEqual(REGION.base);
            expect(phys + size).toBeLessThanOrEqual(REGION.base + REGION.size);
            for (const other of live) {
              const otherSize = PAGE_SIZE * 2 ** other.order;
              expect(phys + size <= other.phys || other.phys + otherSize <= phys).toBe(true);
            }
            live.push({ phys, order: op.order });
          } else if (live.length > 0) {
            const [block] = live.splice(op.pick % live.length, 1);
            buddy.free(block!.phys, block!.order);
          }
        }
        for (const block of live) buddy.free(block.phys, block.order);
        expect(buddy.freeBlockCounts()).toEqual(initial);
        expect(buddy.freeBytes()).toBe(buddy.managedPages * PAGE_SIZE);
      }),
      { numRuns: 60 },
    );
  });

  it("rejects double frees, wrong orders and bad orders", () => {
    const buddy = new BuddyAllocator([REGION]);
    const phys = buddy.alloc(3);
    expect(() => buddy.free(phys, 2)).toThrow(BadFreeError);
    buddy.free(phys, 3);
    expect(() => buddy.free(phys, 3)).toThrow(BadFreeError);
    expect(() => buddy.alloc(11)).toThrow(BadAllocationError);
    expect(() => buddy.alloc(-1)).toThrow(BadAllocationError);
  });

  it("answers whether a range is allocated", () => {
    const buddy = new BuddyAllocator([REGION]);
    const phys = buddy.alloc(4);
    expect(buddy.isAllocated(phys, 16 * PAGE_SIZE)).toBe(true);
    expect(buddy.isAllocated(phys + 15 * PAGE_SIZE, PAGE_SIZE)).toBe(true);
    expect(buddy.isAllocated(phys, 17 * PAGE_SIZE)).toBe(false);
    expect(buddy.allocatedBlockAt(phys + 5 * PAGE_SIZE)).toEqual({ base: phys, order: 4 });
  });
});

describe("BuddyAllocator.adopt", () => {
  it("takes outside blocks once, frees them into the allocator, and refuses anything it manages", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 63 }), { maxLength: 20 }), (slots) => {
        // Managed: [0, 4 MiB); outside blocks come from [4 MiB, 4 MiB + 64 pages).
        const buddy = new BuddyAllocator([{ base: 0, size: 4 * MiB }]);
        const initialFree = buddy.freeBytes();
        for (const slot of slots) {
          const phys = 4 * MiB + slot * PAGE_SIZE;
          buddy.adopt(phys, 0);
          expect(() => buddy.adopt(phys, 0)).toThrow(BadAllocationError);
        }
        expect(() => buddy.adopt(0, 0)).toThrow(BadAllocationError);
        for (const slot of slots) buddy.free(4 * MiB + slot * PAGE_SIZE, 0);
        expect(buddy.freeBytes()).toBe(initialFree + slots.length * PAGE_SIZE);
        for (const slot of slots)
          expect(() => buddy.adopt(4 * MiB + slot * PAGE_SIZE, 0)).toThrow(BadAllocationError);
      }),
      { numRuns: 50 },
    );
  });
});
