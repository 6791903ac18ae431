import { LiveUpdateError } from "@liveupdate/core";

/** A set of shipped kernel builds is inconsistent (a build listed twice, a supported pair naming an unknown build). */
export class ShippedBuildsInvalidError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "CLI_SHIPPED_BUILDS_INVALID";
  /**
   * @param set - the set's name.
   * @param reason - what is wrong.
   * @param context - the build or pair concerned.
   */
  constructor(set: string, reason: string, context: Record<string, unknown>) {
    super(`shipped builds ${set}: ${reason}`, { set, ...context });
  }
}

/** A directory given to `liveupdate inspect` lacks a file or holds one that does not parse. */
export class InspectInputError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "CLI_INSPECT_INPUT";
  /**
   * @param file - the file concerned.
   * @param reason - what is wrong.
   * @param context - field, offset, value.
   * @param cause - the underlying error.
   */
  constructor(file: string, reason: string, context: Record<string, unknown> = {}, cause?: unknown) {
    super(`${file}: ${reason}`, { file, ...context }, { cause });
  }
}

/** An option of `liveupdate demo` is invalid: an unknown build, a size that does not fit, a bad hook. */
export class DemoOptionsError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "CLI_DEMO_OPTIONS";
  /**
   * @param option - the option (`--vm-memory`, `--from`, …).
   * @param reason - what is wrong.
   * @param context - the values concerned.
   */
  constructor(option: string, reason: string, context: Record<string, unknown> = {}) {
    super(`${option}: ${reason}`, { option, ...context });
  }
}
