/**
 * `@liveupdate/example-counter-ring` — an example third-party live-update driver: a device with
 * a ring of counters in one page of memory, state schemas v1 and v2 with migrators, phase-guarded
 * operations and a shared id table (FLB). It imports only `@liveupdate/core`'s public API and is
 * tested with `@liveupdate/core/testkit`.
 *
 * @packageDocumentation
 */
export { CounterRingDriver, type CreateRingOptions } from "./driver.js";
export { CounterRingCorruptError, CounterRingRangeError } from "./errors.js";
export { CounterRing, type RingMode } from "./ring.js";
export {
  CounterRingSchema,
  CounterRingTableSchema,
  CounterRingTableV1,
  type CounterRingTableV1Value,
  CounterRingV1,
  type CounterRingV1Value,
  CounterRingV2,
  type CounterRingV2Value,
  MAX_CAPACITY,
  RING_MODES,
  SLOT_OVERFLOWED,
  sealOf,
} from "./schema.js";
export { CounterRingTable } from "./table.js";
