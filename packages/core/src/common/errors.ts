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
