import { LiveUpdateError } from "../common/errors.js";

/**
 * Facts every schema error carries in its `context`.
 *
 * `driver` is the versioned schema's name (or the struct name for a bare struct codec), `version` the
 * schema version concerned, `path` the field path inside the value, e.g. `inodes[3].extents[0].phys`
 * (`""` for the root).
 */
export interface SchemaErrorContext {
  /** Versioned schema (driver) name, or the root struct name for bare struct codecs. */
  readonly driver?: string;
  /** Schema version concerned, when known. */
  readonly version?: number;
  /** Field path inside the value (`""` = the root). */
  readonly path?: string;
  /** Further facts specific to the failure kind (addresses, limits, values…). */
  readonly [key: string]: unknown;
}

/** One validation problem and where it is. */
export interface ValidationIssue {
  /** Field path such as `inodes[3].extents[0].phys` (`""` = the value itself). */
  readonly path: string;
  /** What is wrong. */
  readonly message: string;
}

/**
 * Base class of every error raised by `schema/`: declaration mistakes, invalid values, hostile
 * encodings, migration refusals and law violations. Match on {@link LiveUpdateError.code}.
 *
 * @example
 * ```ts
 * try {
 *   codec.decode(bytes, memory);
 * } catch (e) {
 *   if (e instanceof SchemaError) console.log(e.code, e.context.path);
 * }
 * ```
 */
export abstract class SchemaError extends LiveUpdateError {
  /** Structured facts: driver, version, field path and kind-specific details. */
  declare readonly context: Readonly<SchemaErrorContext>;

  /**
   * @param message - human-readable description (without the location, which is appended).
   * @param context - driver, version, field path and kind-specific facts.
   * @param options - standard `cause` chaining.
   */
  constructor(message: string, context: SchemaErrorContext = {}, options?: { cause?: unknown }) {
    super(`${message}${describeLocation(context)}`, context, options);
  }
}

function describeLocation(context: SchemaErrorContext): string {
  const parts: string[] = [];
  if (context.driver !== undefined) parts.push(`driver ${context.driver}`);
  if (context.version !== undefined) parts.push(`v${context.version}`);
  if (context.path !== undefined && context.path !== "") parts.push(`field ${context.path}`);
  return parts.length === 0 ? "" : ` (${parts.join(", ")})`;
}

/** A schema declaration is malformed (bad name, unknown count field, contradictory invariants…). */
export class SchemaDeclarationError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_DECLARATION";
}

/** A buffer is shorter than the fixed size of the struct being decoded. */
export class SchemaShortBufferError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_SHORT_BUFFER";
}

/** A buffer given to an exact-size decode is longer than the struct. */
export class SchemaTrailingBytesError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_TRAILING_BYTES";
}

/** A value has the wrong JavaScript shape or type (e.g. a string where a `u32` is declared). */
export class SchemaInvalidValueError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_INVALID_VALUE";
  /** Every problem found, with its field path (io-ts validation may report several). */
  readonly issues: readonly ValidationIssue[];

  /**
   * @param message - human-readable description.
   * @param context - driver, version, path of the first issue.
   * @param issues - all issues found (defaults to one issue at `context.path`).
   */
  constructor(message: string, context: SchemaErrorContext = {}, issues?: readonly ValidationIssue[]) {
    super(message, context);
    this.issues = issues ?? [{ path: context.path ?? "", message }];
  }
}

/**
 * A declared invariant does not hold: type range, `min`/`max`, enum set, flag mask, must-be-zero,
 * a `bool` byte other than 0/1, or a count/length outside its field's invariants.
 * `context.rule` names the invariant (`"range"`, `"min"`, `"max"`, `"enum"`, `"mask"`,
 * `"mustBeZero"`, `"bool"`, `"countMismatch"`).
 */
export class SchemaInvariantError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_INVARIANT";
}

/** A reserved field or implicit alignment padding holds a non-zero byte. */
export class SchemaReservedNonZeroError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_RESERVED_NONZERO";
}

/**
 * A `char[N]` field is malformed: no NUL terminator where one is required, a non-zero byte after the
 * first NUL, invalid UTF-8, or (on encode) a string that does not fit or contains NUL.
 */
export class SchemaBadStringError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_BAD_STRING";
}

/** A pointer is 0 where the declaration does not allow null, or non-zero with a zero count/length. */
export class SchemaNullPointerError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_NULL_POINTER";
}

/** A pointer (or pointee end) is above 2^53 - 1, the largest physical address the SDK represents. */
export class SchemaPointerRangeError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_POINTER_RANGE";
}

/** A pointer is not aligned to its pointee's natural alignment. */
export class SchemaPointerMisalignedError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_POINTER_MISALIGNED";
}

/** A pointee is not entirely inside memory the driver preserved. */
export class SchemaPointerNotPreservedError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_POINTER_NOT_PRESERVED";
}

/** `count * elementSize` overflows, or exceeds the decode byte budget. */
export class SchemaCountOverflowError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_COUNT_OVERFLOW";
}

/** A pointer leads back into a pointee that is still being decoded (a cycle). */
export class SchemaPointerCycleError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_POINTER_CYCLE";
}

/**
 * A pointee overlaps another, already decoded pointee (shared or aliased storage). Our encoder never
 * produces sharing, so it is refused rather than decoded twice.
 */
export class SchemaPointerSharedError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_POINTER_SHARED";
}

/** Decoding exceeded its depth, pointee-count or byte budget. `context.budget` names which. */
export class SchemaBudgetExceededError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_BUDGET_EXCEEDED";
}

/** A pointer had to be written or followed, but no {@link SchemaMemory} was supplied. */
export class SchemaMemoryRequiredError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_NO_MEMORY";
}

/** The memory interface misbehaved: a short read, a misaligned or unsafe allocation, or a foreign throw. */
export class SchemaMemoryError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_MEMORY";
}

/** A version number or compatible string names no version of the schema. */
export class SchemaUnknownVersionError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_UNKNOWN_VERSION";
}

/**
 * A down-migrator refused a value that the older version cannot express (an `injective` migrator
 * meeting, say, `seals` set). `context.path` names the field.
 */
export class SchemaDowngradeRefusedError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_DOWNGRADE_REFUSED";
}

/** A migration path needs a `lossy` down-migrator and the caller's policy does not allow it. */
export class SchemaLossyRefusedError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_LOSSY_REFUSED";
}

/** A migrator threw something other than a refusal, or produced a value invalid for its target version. */
export class SchemaMigrationFailedError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_MIGRATION_FAILED";
}

/**
 * A property check failed: a migrator law (`down(up(x)) = x`, …) or a codec round trip.
 * `context.migrator`, `context.law` and `context.counterexample` describe the failure.
 */
export class SchemaLawViolationError extends SchemaError {
  /** Stable code. */
  readonly code = "SCHEMA_LAW_VIOLATION";
}
