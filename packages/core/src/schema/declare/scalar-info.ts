import type { ScalarName } from "./types.js";

/** Static facts about one integer kind. */
export interface ScalarInfo {
  /** Size (and natural alignment) in bytes. */
  readonly size: 1 | 2 | 4 | 8;
  /** Whether the kind is two's-complement signed. */
  readonly signed: boolean;
  /** Whether values are `bigint` (64-bit kinds). */
  readonly big: boolean;
  /** Smallest representable value. */
  readonly min: bigint;
  /** Largest representable value. */
  readonly max: bigint;
}

function info(size: 1 | 2 | 4 | 8, signed: boolean): ScalarInfo {
  const bits = BigInt(size * 8);
  return Object.freeze({
    size,
    signed,
    big: size === 8,
    min: signed ? -(1n << (bits - 1n)) : 0n,
    max: signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n,
  });
}

/** Size, signedness and range of every integer kind. */
export const SCALAR_INFO: Readonly<Record<ScalarName, ScalarInfo>> = Object.freeze({
  u8: info(1, false),
  u16: info(2, false),
  u32: info(4, false),
  u64: info(8, false),
  i8: info(1, true),
  i16: info(2, true),
  i32: info(4, true),
  i64: info(8, true),
});
