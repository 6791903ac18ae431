import { describe, expect, it } from "vitest";
import { LuoStateTooLargeError } from "../../src/luo/errors.js";
import { folioBytes, HandoverReader, MAX_ARENA_ALLOCATION, PreservedArena } from "../../src/luo/memory.js";
import { buildA, world } from "./fixtures.js";

const MiB = 1024 * 1024;

describe("PreservedArena", () => {
  it("serves an allocation over 4 MiB from contiguous preserved folios, and reads it back across them", () => {
    const w = world("512M");
    const lk = w.boot(buildA);
    const arena = new PreservedArena(lk.kernel, lk.kho);
    arena.allocate(64, 8);
    const big = arena.allocate(9 * MiB + 123, 8);
    const folios = arena.folios.slice(1);
    expect(folios.length).toBe(3);
    expect(folios[0]!.phys).toBe(big);
    for (let i = 1; i < folios.length; i++) {
      expect(folios[i]!.phys).toBe(folios[i - 1]!.phys + folioBytes(folios[i - 1]!.order));
    }
    expect(lk.kho.outgoing.isPreserved(big, 9 * MiB + 123)).toBe(true);
    const tail = new Uint8Array([1, 2, 3, 4]);
    arena.write(big + 9 * MiB + 119, tail);
    const reader = new HandoverReader(
      w.machine.memory,
      arena.folios.map((f) => ({ base: f.phys, size: folioBytes(f.order) })),
    );
    expect(reader.isPreserved(big, 9 * MiB + 123)).toBe(true);
    expect([...reader.read(big + 9 * MiB + 119, 4)]).toEqual([1, 2, 3, 4]);
    // The next small allocation continues in the run's last folio.
    const next = arena.allocate(16, 8);
    expect(next).toBeGreaterThan(big);
    expect(next).toBeLessThan(big + 12 * MiB);
    const free = lk.kernel.freeBytes();
    arena.release();
    expect(lk.kernel.freeBytes()).toBe(free + 12 * MiB + 4096);
    expect([...lk.kho.outgoing.preservedFolios()].some((f) => f.phys === big)).toBe(false);
  });

  it("throws LuoStateTooLargeError past the limit or when no contiguous run is free, leaking nothing", () => {
    const w = world("256M");
    const lk = w.boot(buildA);
    const arena = new PreservedArena(lk.kernel, lk.kho);
    const free = lk.kernel.freeBytes();
    expect(() => arena.allocate(MAX_ARENA_ALLOCATION + 1, 8)).toThrow(LuoStateTooLargeError);
    const error = (() => {
      try {
        arena.allocate(200 * MiB, 8);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(LuoStateTooLargeError);
    expect((error as LuoStateTooLargeError).errno).toBe("E2BIG");
    expect(lk.kernel.freeBytes()).toBe(free);
    expect(arena.folios).toEqual([]);
  });
});
