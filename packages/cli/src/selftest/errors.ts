import { LiveUpdateError } from "@liveupdate/core";

/** The self-test found preserved data that did not survive the kexec intact. */
export class SelftestVerificationError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "SELFTEST_VERIFY";
  /**
   * @param what - which check failed.
   * @param context - folio index, address, order.
   */
  constructor(what: string, context: Record<string, unknown>) {
    super(`KHO self-test: ${what} did not survive the kexec`, context);
  }
}
