import { SchemaDeclarationError } from "../errors.js";
import { normaliseInvariants } from "./invariants.js";
import { registerDescriptor } from "./registry.js";
import { SCALAR_INFO } from "./scalar-info.js";
import type {
  BigScalarName,
  BoolType,
  IntInvariantOptions,
  ScalarName,
  ScalarType,
  SmallScalarName,
} from "./types.js";

function scalar<N extends ScalarName, V extends number | bigint>(
  name: N,
  options: IntInvariantOptions<V> | undefined,
): ScalarType<N, V> {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new SchemaDeclarationError(`${name}(): options must be an object`);
  }
  return registerDescriptor({
    kind: "scalar" as const,
    scalar: name,
    invariants: normaliseInvariants<V>(name, options ?? {}),
  });
}

/**
 * Unsigned 8-bit integer field (`number`).
 *
 * @param options - invariants checked on encode and decode.
 * @example
 * ```ts
 * const kind = u8({ enum: { file: 1, dir: 2 } });
 * ```
 */
export function u8(options?: IntInvariantOptions<number>): ScalarType<"u8", number> {
  return scalar("u8", options);
}

/**
 * Unsigned 16-bit integer field (`number`).
 *
 * @param options - invariants checked on encode and decode.
 * @example
 * ```ts
 * const mode = u16({ mask: 0o7777 });
 * ```
 */
export function u16(options?: IntInvariantOptions<number>): ScalarType<"u16", number> {
  return scalar("u16", options);
}

/**
 * Unsigned 32-bit integer field (`number`).
 *
 * @param options - invariants checked on encode and decode.
 * @example
 * ```ts
 * const pages = u32({ min: 1 });
 * ```
 */
export function u32(options?: IntInvariantOptions<number>): ScalarType<"u32", number> {
  return scalar("u32", options);
}

/**
 * Unsigned 64-bit integer field (`bigint`, exact over the whole range).
 *
 * @param options - invariants (as `bigint`s) checked on encode and decode.
 * @example
 * ```ts
 * const size = u64({ max: 1n << 40n });
 * ```
 */
export function u64(options?: IntInvariantOptions<bigint>): ScalarType<"u64", bigint> {
  return scalar("u64", options);
}

/**
 * Signed 8-bit integer field (`number`).
 *
 * @param options - invariants checked on encode and decode.
 */
export function i8(options?: IntInvariantOptions<number>): ScalarType<"i8", number> {
  return scalar("i8", options);
}

/**
 * Signed 16-bit integer field (`number`).
 *
 * @param options - invariants checked on encode and decode.
 */
export function i16(options?: IntInvariantOptions<number>): ScalarType<"i16", number> {
  return scalar("i16", options);
}

/**
 * Signed 32-bit integer field (`number`).
 *
 * @param options - invariants checked on encode and decode.
 */
export function i32(options?: IntInvariantOptions<number>): ScalarType<"i32", number> {
  return scalar("i32", options);
}

/**
 * Signed 64-bit integer field (`bigint`).
 *
 * @param options - invariants (as `bigint`s) checked on encode and decode.
 */
export function i64(options?: IntInvariantOptions<bigint>): ScalarType<"i64", bigint> {
  return scalar("i64", options);
}

/**
 * One-byte boolean field: encodes `false`/`true` as 0/1; decode refuses any other byte.
 *
 * @example
 * ```ts
 * const State = struct("state", { frozen: bool(), _r: reserved(3), epoch: u32() });
 * ```
 */
export function bool(): BoolType {
  return BOOL;
}

const BOOL: BoolType = registerDescriptor({ kind: "bool" as const });

/** Whether `name` is a 64-bit kind (decoded as `bigint`). */
export function isBigScalar(name: ScalarName): name is BigScalarName {
  return SCALAR_INFO[name].big;
}

/** Whether `name` is a kind of at most 32 bits (decoded as `number`). */
export function isSmallScalar(name: ScalarName): name is SmallScalarName {
  return !SCALAR_INFO[name].big;
}
