import { generatorFor } from "@liveupdate/core";
import type { ConformanceOptions } from "@liveupdate/core/testkit";
import { expect } from "vitest";
import { type CounterRing, CounterRingDriver, CounterRingV2, sealOf } from "../src/index.js";

/** What `assertRestored` compares: everything a VM could observe of a ring. */
export interface RingSnapshot {
  readonly id: number;
  readonly capacity: number;
  readonly mode: string;
  readonly counters: readonly number[];
  readonly flags: readonly number[];
}

// #region generators
/**
 * Meaningful v2 states for the migrator laws. A v2 state has one flag per slot and a seal over
 * every other field, which generated values almost never match (`down` refuses them all): give
 * every candidate one flag per slot, then seal it.
 */
export const sealedStates = generatorFor(CounterRingV2, (states) =>
  states.map(({ seal: _seal, ...state }) => {
    const flags = Array.from({ length: state.capacity }, (_, slot) => state.flags[slot] ?? 0);
    return { ...state, flags, seal: sealOf({ ...state, flags }) };
  }),
);
// #endregion generators

// #region options
/** Reads what a VM could observe of `ring` through `driver`. */
export function observe(driver: CounterRingDriver, ring: CounterRing): RingSnapshot {
  return {
    id: ring.id,
    capacity: ring.capacity,
    mode: ring.mode,
    counters: driver.read(ring),
    flags: [...ring.flags],
  };
}

/** The conformance options of the counter ring driver: what only its author knows. */
export const ringConformance: ConformanceOptions<CounterRingDriver, CounterRing, RingSnapshot> = {
  // A representative ring: random size and mode, some traffic, sometimes an overflow.
  createObject: (_lk, rng, driver) => {
    const ring = driver.create({ capacity: rng.int(1, 64), mode: rng.int(0, 3) === 0 ? "saturate" : "wrap" });
    for (let n = rng.int(0, 2 * ring.capacity); n > 0; n--) {
      if (rng.int(0, 3) === 0) driver.tick(ring);
      else driver.increment(ring, rng.int(0, 1000));
    }
    if (rng.int(0, 7) === 0) driver.increment(ring, 0xffff_ffff);
    return ring;
  },
  // Taken in the old kernel at the end of brownout.
  snapshot: (ring, _lk, driver) => observe(driver, ring),
  // In the new kernel: the restored ring must show the same counters, flags and geometry.
  assertRestored: (_original, restored, ctx) => {
    expect(observe(ctx.driver, restored)).toEqual(ctx.snapshot);
  },
  // A dirty-tracked change during brownout: must reach the new kernel.
  brownout: (ring, _lk, driver) => driver.increment(ring, 7),
  // v2 states carry a seal: a corrupted v2 state must be refused, never restored.
  corruption: { integrity: [2] },
  // ... and the migrator laws need sealed v2 values, or down refuses them all (a vacuous law).
  generators: [sealedStates],
};
// #endregion options
