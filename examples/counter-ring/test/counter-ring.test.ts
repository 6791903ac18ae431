import {
  defineKernelBuild,
  LuoHookFailedError,
  LuoOperationRefusedError,
  LuoRestoreAbortedError,
  SchemaDowngradeRefusedError,
} from "@liveupdate/core";
import { fieldOffset, LiveUpdateHarness, withNative } from "@liveupdate/core/testkit";
import { describe, expect, it } from "vitest";
import {
  type CounterRing,
  CounterRingCorruptError,
  CounterRingDriver,
  CounterRingRangeError,
  CounterRingTable,
  CounterRingV2,
} from "../src/index.js";

// #region builds
/** Two kernel builds that both ship the counter ring driver (native v2, reads and writes v1 and v2). */
const buildA = defineKernelBuild({ version: "6.18.0-a", drivers: [CounterRingDriver] });
const buildB = defineKernelBuild({ version: "6.18.0-b", drivers: [CounterRingDriver] });
/** An older build whose driver speaks only v1 (the testkit adapts the driver to v1). */
const buildV1 = defineKernelBuild({ version: "6.17.0", drivers: [withNative(CounterRingDriver, 1)] });
// #endregion builds

describe("a counter ring across a live update", () => {
  it("keeps its counters, flags and geometry, including a change made during brownout", () => {
    // #region update
    const h = LiveUpdateHarness.boot({ from: buildA, to: buildB });
    const rings = h.driver(CounterRingDriver);
    const ring = rings.create({ capacity: 4 });
    rings.increment(ring, 5);
    rings.tick(ring);
    rings.increment(ring, 3);
    h.preserve(1, ring);

    const result = h.update({
      brownout: () => rings.increment(ring, 2), // allowed in brownout: the ring is re-serialized at freeze
    });

    const restored = result.restored<CounterRing>(1);
    const next = result.kernel.driver(CounterRingDriver);
    expect(next.read(restored)).toEqual([5, 5]);
    expect(restored.page).toBe(ring.page); // the counters never moved
    // #endregion update
    expect(restored).not.toBe(ring);
    expect(result.kernel.driver(CounterRingTable).nextId).toBe(2);

    // #region timeline
    const summary = result.summary;
    expect(summary.brownoutNs).toBeGreaterThan(0);
    expect(summary.blackoutNs).toBeGreaterThan(0);
    expect(summary.perDriver.map((d) => d.driver)).toEqual(["counter-ring", "counter-ring-table"]);
    const ringTotals = summary.perObject.find((o) => o.token === 1n)!;
    expect(Object.keys(ringTotals.byHook)).toEqual(
      expect.arrayContaining(["prepare", "serialize", "encode", "decode", "restore"]),
    );
    const dirty = result.events.filter((e) => e.kind === "dirty");
    expect(dirty).toMatchObject([{ driver: "counter-ring", operation: "increment", token: 1n }]);
    expect(result.freeze.serializedAtFreeze).toBe(1);
    const negotiated = result.events.find((e) => e.kind === "negotiated");
    expect(negotiated).toMatchObject({
      drivers: expect.arrayContaining([
        { driver: "counter-ring", version: 2, compatible: "counter-ring-v2" },
      ]),
    });
    // #endregion timeline

    result.finish();
    expect(result.kernel.luo.phase).toBe("NORMAL");
  });

  it("guards its operations by phase", () => {
    // #region guards
    const h = LiveUpdateHarness.boot({ from: buildA, to: buildB });
    const rings = h.driver(CounterRingDriver);
    const ring = h.preserve(1, rings.create({ capacity: 8 }));
    const loose = rings.create({ capacity: 8 }); // not preserved: never restricted

    h.prepare(); // brownout
    rings.increment(ring); // allowed, the ring is marked dirty
    const refused = (() => {
      try {
        rings.resize(ring, 4);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(LuoOperationRefusedError);
    expect(refused).toMatchObject({
      errno: "EBUSY",
      context: { operation: "resize", phase: "PREPARED", token: 1n },
    });
    expect(() => rings.setMode(ring, "saturate")).toThrow(LuoOperationRefusedError);
    rings.resize(loose, 4);

    const result = h.update({
      // blackout: every guarded operation on a preserved object is refused
      frozen: () => expect(() => rings.increment(ring)).toThrow(LuoOperationRefusedError),
    });
    const next = result.kernel.driver(CounterRingDriver);
    const restored = result.restored<CounterRing>(1);
    next.increment(restored); // UPDATED: allowed
    expect(() => next.resize(restored, 4)).toThrow(LuoOperationRefusedError); // refused until finished
    result.session().finish();
    next.resize(restored, 4);
    // #endregion guards
    expect(next.read(restored)).toEqual([2]);
    expect(() => next.create({ capacity: 0 })).toThrow(CounterRingRangeError);
  });

  it("is back to normal operation after a cancelled update", () => {
    // #region cancel
    const h = LiveUpdateHarness.boot({ from: buildA, to: buildB });
    const rings = h.driver(CounterRingDriver);
    const ring = h.preserve(1, rings.create({ capacity: 2 }));
    h.prepare();
    rings.increment(ring, 9);
    h.kernel.luo.cancel("operator changed their mind");
    expect(h.kernel.luo.phase).toBe("NORMAL");
    rings.resize(ring, 3); // allowed again
    const result = h.update();
    expect(result.kernel.driver(CounterRingDriver).read(result.restored<CounterRing>(1))).toEqual([9]);
    // #endregion cancel
  });
});

describe("version pairs", () => {
  it("downgrades to a build that only reads v1 when v1 can express the ring", () => {
    // #region downgrade
    const h = LiveUpdateHarness.boot({ from: buildA, to: buildV1 });
    const rings = h.driver(CounterRingDriver);
    const ring = h.preserve(1, rings.create({ capacity: 3 }));
    rings.increment(ring, 41);
    const result = h.update();
    expect(result.prepare.negotiation.drivers.find((d) => d.driver === "counter-ring")?.version).toBe(1);
    const old = result.kernel.driver(withNative(CounterRingDriver, 1));
    expect(old.read(result.restored<CounterRing>(1))).toEqual([41]);
    // #endregion downgrade
  });

  it("refuses the downgrade of a saturating ring before anything is handed over", () => {
    // #region refused
    const h = LiveUpdateHarness.boot({ from: buildA, to: buildV1 });
    const rings = h.driver(CounterRingDriver);
    const ring = h.preserve(1, rings.create({ capacity: 3, mode: "saturate" }));
    let error: unknown;
    try {
      h.update();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LuoHookFailedError);
    expect((error as LuoHookFailedError).cause).toBeInstanceOf(SchemaDowngradeRefusedError);
    expect((error as LuoHookFailedError).cause).toMatchObject({ context: { path: "mode" } });
    expect(h.kernel.luo.phase).toBe("NORMAL"); // the old kernel runs on, the ring untouched
    rings.increment(ring);
    // #endregion refused
    expect(rings.read(ring)).toEqual([1]);
  });

  it("upgrades from the v1 build: the migrator fills in mode, flags and seal", () => {
    const h = LiveUpdateHarness.boot({ from: buildV1, to: buildB });
    const rings = h.driver(withNative(CounterRingDriver, 1));
    const ring = h.preserve(1, rings.create({ capacity: 5 }));
    rings.increment(ring, 12);
    const result = h.update();
    const restored = result.restored<CounterRing>(1);
    expect(restored.mode).toBe("wrap");
    expect([...restored.flags]).toEqual([0, 0, 0, 0, 0]);
    expect(result.kernel.driver(CounterRingDriver).read(restored)).toEqual([12]);
  });
});

describe("restore trusts nothing", () => {
  it("refuses a state whose seal does not match (the update fails loudly: policy abort)", () => {
    // #region corrupt
    const h = LiveUpdateHarness.boot({ from: buildA, to: buildB });
    const rings = h.driver(CounterRingDriver);
    h.preserve(1, rings.create({ capacity: 8 }));
    let error: unknown;
    try {
      h.update({
        // Play a hostile old kernel: move the head inside the ring (still a well-formed v2 value).
        beforeBoot: (handover, machine) => {
          const state = handover.file("default", 1)!.data;
          machine.memory.writeU16(state + fieldOffset(CounterRingV2, "head"), 3);
        },
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LuoRestoreAbortedError);
    expect((error as LuoRestoreAbortedError).cause).toBeInstanceOf(CounterRingCorruptError);
    expect(error).toMatchObject({ context: { driver: "counter-ring", session: "default", token: 1n } });
    // #endregion corrupt
  });
});
