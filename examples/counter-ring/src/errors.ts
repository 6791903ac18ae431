import { LiveUpdateError } from "@liveupdate/core";

/**
 * The restored state of a counter ring is inconsistent: its seal does not match, an index is
 * outside the ring, the flags do not cover every slot, or its id was never handed out. Thrown by
 * the restore hook, so the orchestrator applies the driver's restore policy.
 */
export class CounterRingCorruptError extends LiveUpdateError {
  /** Stable code. */
  readonly code = "COUNTER_RING_CORRUPT";
}

/** An argument is out of range: a capacity outside 1..1024, a negative or fractional increment. */
export class CounterRingRangeError extends LiveUpdateError {
  /** Stable code. */
  readonly code = "COUNTER_RING_RANGE";
}
