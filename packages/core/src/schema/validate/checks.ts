import { satisfiesInvariants } from "../declare/invariants.js";
import { SCALAR_INFO } from "../declare/scalar-info.js";
import type { CharsType, IntInvariants, ScalarName } from "../declare/types.js";

/**
 * Value checks shared by the io-ts types and the arbitraries: each returns a problem message or
 * `undefined` when the value is valid.
 *
 * @module
 */

function describeInvariants(inv: IntInvariants<number | bigint>): string {
  const parts: string[] = [];
  if (inv.mustBeZero) parts.push("mustBeZero");
  if (inv.min !== undefined) parts.push(`min ${inv.min}`);
  if (inv.max !== undefined) parts.push(`max ${inv.max}`);
  if (inv.mask !== undefined) parts.push(`mask 0x${BigInt(inv.mask).toString(16)}`);
  if (inv.enum !== undefined) parts.push(`enum {${inv.enum.map((m) => m.value).join(", ")}}`);
  return parts.join(", ");
}

/**
 * Problem with `u` as a value of integer kind `scalar` with invariants `inv`, if any.
 *
 * @param scalar - the integer kind.
 * @param inv - declared invariants.
 * @param u - candidate value.
 */
export function scalarProblem(
  scalar: ScalarName,
  inv: IntInvariants<number | bigint>,
  u: unknown,
): string | undefined {
  const info = SCALAR_INFO[scalar];
  let value: bigint;
  if (info.big) {
    if (typeof u !== "bigint") return `expected a bigint (${scalar})`;
    value = u;
  } else {
    if (typeof u !== "number" || !Number.isInteger(u)) return `expected an integer number (${scalar})`;
    value = BigInt(u);
  }
  if (value < info.min || value > info.max) return `${value} is outside the range of ${scalar}`;
  if (!satisfiesInvariants(inv, value)) return `${value} violates ${describeInvariants(inv)}`;
  return undefined;
}

/**
 * Problem with a length `n` given the count/length field's kind and invariants, if any.
 *
 * @param scalar - kind of the count field.
 * @param inv - invariants of the count field.
 * @param n - the array or area length.
 * @param countField - name of the count field, for the message.
 */
export function countProblem(
  scalar: ScalarName,
  inv: IntInvariants<number | bigint>,
  n: number,
  countField: string,
): string | undefined {
  const info = SCALAR_INFO[scalar];
  const value = BigInt(n);
  if (value > info.max) return `length ${n} does not fit count field ${countField} (${scalar})`;
  if (!satisfiesInvariants(inv, value))
    return `length ${n} violates ${describeInvariants(inv)} of count field ${countField}`;
  return undefined;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * UTF-8 byte length of a well-formed string.
 *
 * @param s - the string.
 */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Problem with `u` as the value of a `char[N]` field, if any.
 *
 * @param type - the chars declaration.
 * @param u - candidate value.
 */
export function charsProblem(type: CharsType, u: unknown): string | undefined {
  if (typeof u !== "string") return "expected a string";
  if (u.includes("\0")) return "string contains a NUL character";
  if (LONE_SURROGATE.test(u)) return "string is not well-formed UTF-16 (lone surrogate)";
  const room = type.nulTerminated ? type.length - 1 : type.length;
  if (utf8Length(u) > room) return `string needs ${utf8Length(u)} UTF-8 bytes, ${room} fit`;
  return undefined;
}
