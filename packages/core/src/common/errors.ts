/**
 * The root of every error the SDK throws at an API boundary.
 *
 * Each failure kind is its own subclass with a stable {@link LiveUpdateError.code} (never reworded,
 * safe to match on) and a `context` naming what was concerned: the driver, the object, the field,
 * the physical address. Messages are for humans and may change; codes and context are the API.
 *
 * @example
 * ```ts
 * try {
 *   memory.readU32(0x1_0000_0000_0000);
 * } catch (e) {
 *   if (e instanceof LiveUpdateError && e.code === "HW_NOT_MEMORY") console.log(e.context);
 * }
 * ```
 */
export abstract class LiveUpdateError extends Error {
  /** Stable machine-readable identifier of the failure kind, e.g. `"KHO_NOT_PRESERVED"`. */
  abstract readonly code: string;
  /** What the failure concerns (driver, object, field path, physical address, …). */
  readonly context: Readonly<Record<string, unknown>>;

  /**
   * @param message - human-readable description; include the names found in `context`.
   * @param context - structured facts about the failure.
   * @param options - standard `cause` chaining.
   */
  constructor(
    message: string,
    context: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.context = context;
  }
}

/** Formats a physical address (or any non-negative integer) as `0x…` hex for messages. */
export function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

/**
 * A wire-format constant pinned in an ABI module disagrees with its derivation or with upstream's
 * static asserts. Raised once, when the module loads — the equivalent of a failed `static_assert`,
 * so a mistaken edit cannot ship a silently different format.
 *
 * @example
 * ```ts
 * assertAbi("kho", [["sizeof(struct kho_scratch)", 16, 16]]); // passes; a mismatch throws ABI_DRIFT
 * ```
 */
export class AbiDriftError extends LiveUpdateError {
  /** Stable code. */
  readonly code = "ABI_DRIFT";

  /**
   * @param area - which format (e.g. `kho`, `fdt`).
   * @param what - the constant or expression checked.
   * @param actual - its value.
   * @param expected - the value the format requires.
   */
  constructor(area: string, what: string, actual: number, expected: number) {
    super(`${area} ABI drift: ${what} is ${actual}, expected ${expected}`, {
      area,
      field: what,
      actual,
      expected,
    });
  }
}

/**
 * Checks pinned wire-format constants (`[what, actual, expected]` triples), as ABI headers do with
 * `static_assert`.
 *
 * @param area - which format, for the error.
 * @param checks - the constants and the values they must have.
 * @throws {@link AbiDriftError} on the first mismatch.
 */
export function assertAbi(area: string, checks: readonly (readonly [string, number, number])[]): void {
  for (const [what, actual, expected] of checks) {
    if (actual !== expected) throw new AbiDriftError(area, what, actual, expected);
  }
}
