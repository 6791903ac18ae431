import { LiveUpdateError } from "../common/errors.js";
import type { ConformanceReport } from "./report.js";

/** Base of the testkit's own errors (misuse of the harness, a failed conformance run). */
export abstract class TestkitError extends LiveUpdateError {}

/**
 * The harness was used in a way its state does not allow: `update()` after a boot that failed,
 * `restored()` of a session that does not exist in the new kernel, a handover image read without
 * a handover, …
 */
export class HarnessStateError extends TestkitError {
  /** @inheritDoc */
  readonly code = "TESTKIT_HARNESS_STATE";
}

/**
 * The handover in memory cannot be read as a LUO handover (the testkit's own reader, used to
 * inspect and to corrupt it; the new kernel reports the same problems as `LuoHandoverCorruptError`).
 */
export class HandoverImageError extends TestkitError {
  /** @inheritDoc */
  readonly code = "TESTKIT_HANDOVER_IMAGE";
}

/**
 * {@link assertDriverConformance} found a driver that does not conform. The message lists every
 * failed check with its first failures; `report` holds the whole structured report.
 */
export class DriverConformanceError extends TestkitError {
  /** @inheritDoc */
  readonly code = "TESTKIT_CONFORMANCE_FAILED";
  /** The full report (empty of checks when the driver could not be checked at all). */
  readonly report: Pick<ConformanceReport, "driver" | "seed"> & Partial<ConformanceReport>;

  /**
   * @param message - the readable aggregated message.
   * @param report - the structured report.
   */
  constructor(
    message: string,
    report: Pick<ConformanceReport, "driver" | "seed"> & Partial<ConformanceReport>,
  ) {
    super(message, { driver: report.driver, seed: report.seed });
    this.report = report;
  }
}
