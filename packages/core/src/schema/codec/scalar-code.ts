import { SCALAR_INFO } from "../declare/scalar-info.js";
import type { IntInvariants, ScalarName } from "../declare/types.js";
import type { Emitter } from "./emitter.js";

/**
 * Code snippets for integer fields: type checks, invariant checks, DataView accessors.
 *
 * @internal
 * @module
 */

/** Literal of `value` in the JavaScript domain of `scalar` (`bigint` literal for 64-bit kinds). */
export function literal(scalar: ScalarName, value: number | bigint): string {
  return SCALAR_INFO[scalar].big ? `(${BigInt(value)}n)` : `(${Number(value)})`;
}

/** Expression that is true when `x` is NOT a valid JavaScript value of kind `scalar`. */
export function invalidScalar(scalar: ScalarName, x: string): string {
  switch (scalar) {
    case "u8":
      return `(${x} & 0xff) !== ${x}`;
    case "u16":
      return `(${x} & 0xffff) !== ${x}`;
    case "u32":
      return `(${x} >>> 0) !== ${x}`;
    case "i8":
      return `((${x} << 24) >> 24) !== ${x}`;
    case "i16":
      return `((${x} << 16) >> 16) !== ${x}`;
    case "i32":
      return `(${x} | 0) !== ${x}`;
    case "u64":
      return `typeof ${x} !== "bigint" || ${x} < 0n || ${x} > 0xffffffffffffffffn`;
    case "i64":
      return `typeof ${x} !== "bigint" || ${x} < -0x8000000000000000n || ${x} > 0x7fffffffffffffffn`;
  }
}

/** Statement writing `x` at `off`. */
export function writeScalar(scalar: ScalarName, u8: string, dv: string, off: string, x: string): string {
  switch (scalar) {
    case "u8":
      return `${u8}[${off}] = ${x};`;
    case "i8":
      return `${dv}.setInt8(${off}, ${x});`;
    case "u16":
      return `${dv}.setUint16(${off}, ${x}, true);`;
    case "i16":
      return `${dv}.setInt16(${off}, ${x}, true);`;
    case "u32":
      return `${dv}.setUint32(${off}, ${x}, true);`;
    case "i32":
      return `${dv}.setInt32(${off}, ${x}, true);`;
    case "u64":
      return `${dv}.setBigUint64(${off}, ${x}, true);`;
    case "i64":
      return `${dv}.setBigInt64(${off}, ${x}, true);`;
  }
}

/** Expression reading a value of kind `scalar` at `off`. */
export function readScalar(scalar: ScalarName, u8: string, dv: string, off: string): string {
  switch (scalar) {
    case "u8":
      return `${u8}[${off}]`;
    case "i8":
      return `${dv}.getInt8(${off})`;
    case "u16":
      return `${dv}.getUint16(${off}, true)`;
    case "i16":
      return `${dv}.getInt16(${off}, true)`;
    case "u32":
      return `${dv}.getUint32(${off}, true)`;
    case "i32":
      return `${dv}.getInt32(${off}, true)`;
    case "u64":
      return `${dv}.getBigUint64(${off}, true)`;
    case "i64":
      return `${dv}.getBigInt64(${off}, true)`;
  }
}

/** One violated invariant: its rule name and a human description. */
export type FailInvariant = (rule: string, detail: string) => string;

/**
 * Emits the checks of every declared invariant on `x` (already known to be of the right kind and
 * range), in a fixed order: mustBeZero, min, max, mask, enum. `fail` returns the throwing
 * statement for a rule.
 */
export function emitInvariantChecks(
  em: Emitter,
  scalar: ScalarName,
  inv: IntInvariants<number | bigint>,
  x: string,
  fail: FailInvariant,
): void {
  const big = SCALAR_INFO[scalar].big;
  const zero = big ? "0n" : "0";
  if (inv.mustBeZero) em.line(`if (${x} !== ${zero}) ${fail("mustBeZero", "")}`);
  if (inv.min !== undefined)
    em.line(`if (${x} < ${literal(scalar, inv.min)}) ${fail("min", String(inv.min))}`);
  if (inv.max !== undefined)
    em.line(`if (${x} > ${literal(scalar, inv.max)}) ${fail("max", String(inv.max))}`);
  if (inv.mask !== undefined) {
    const mask = BigInt(inv.mask);
    const notMask = big ? `(${~mask}n)` : `(${Number(BigInt.asIntN(32, ~mask))})`;
    em.line(`if ((${x} & ${notMask}) !== ${zero}) ${fail("mask", `0x${mask.toString(16)}`)}`);
  }
  if (inv.enum !== undefined) {
    const values = [...new Set(inv.enum.map((m) => BigInt(m.value)))];
    const detail = inv.enum
      .map((m) => (m.name === undefined ? String(m.value) : `${m.name}=${m.value}`))
      .join(", ");
    const test = values.map((v) => `${x} !== ${literal(scalar, v)}`).join(" && ");
    em.line(`if (${test}) ${fail("enum", `{${detail}}`)}`);
  }
}
