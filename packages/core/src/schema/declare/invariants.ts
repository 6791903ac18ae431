import { SchemaDeclarationError } from "../errors.js";
import { assertIdentifier } from "./names.js";
import { SCALAR_INFO } from "./scalar-info.js";
import type { EnumMember, IntInvariantOptions, IntInvariants, ScalarName } from "./types.js";

function toBig(value: number | bigint): bigint {
  return typeof value === "bigint" ? value : BigInt(value);
}

function checkValue(name: ScalarName, what: string, value: unknown): void {
  const info = SCALAR_INFO[name];
  const ok = info.big
    ? typeof value === "bigint"
    : typeof value === "number" && Number.isSafeInteger(value) && !Object.is(value, -0);
  if (!ok) {
    throw new SchemaDeclarationError(
      `${name}(): ${what} must be ${info.big ? "a bigint" : "an integer number"}, got ${String(value)}`,
    );
  }
  const big = toBig(value as number | bigint);
  if (big < info.min || big > info.max) {
    throw new SchemaDeclarationError(`${name}(): ${what} ${big} is outside the range of ${name}`);
  }
}

/**
 * Validates and normalises the invariants of an integer field. Throws a
 * {@link SchemaDeclarationError} for values of the wrong type or range, `min > max`, an empty
 * enum, a negative mask, or invariants no value can satisfy.
 *
 * @param name - the integer kind.
 * @param options - invariants as written by the user.
 */
export function normaliseInvariants<V extends number | bigint>(
  name: ScalarName,
  options: IntInvariantOptions<V>,
): IntInvariants<V> {
  const known = new Set(["min", "max", "enum", "mask", "mustBeZero"]);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new SchemaDeclarationError(`${name}(): unknown option ${JSON.stringify(key)}`);
  }
  const out: { min?: V; max?: V; enum?: readonly EnumMember<V>[]; mask?: V; mustBeZero: boolean } = {
    mustBeZero: false,
  };
  if (options.min !== undefined) {
    checkValue(name, "min", options.min);
    out.min = options.min;
  }
  if (options.max !== undefined) {
    checkValue(name, "max", options.max);
    out.max = options.max;
  }
  if (out.min !== undefined && out.max !== undefined && toBig(out.min) > toBig(out.max)) {
    throw new SchemaDeclarationError(`${name}(): min ${out.min} is greater than max ${out.max}`);
  }
  if (options.enum !== undefined) {
    const members: EnumMember<V>[] = [];
    if (Array.isArray(options.enum)) {
      for (const value of options.enum as readonly V[])
        members.push(Object.freeze({ name: undefined, value }));
    } else if (typeof options.enum === "object" && options.enum !== null) {
      for (const [member, value] of Object.entries(options.enum as Record<string, V>)) {
        assertIdentifier(member, "enum member");
        members.push(Object.freeze({ name: member, value }));
      }
    } else {
      throw new SchemaDeclarationError(`${name}(): enum must be a record or a list of values`);
    }
    if (members.length === 0) throw new SchemaDeclarationError(`${name}(): enum must not be empty`);
    for (const member of members) checkValue(name, "enum value", member.value);
    out.enum = Object.freeze(members);
  }
  if (options.mask !== undefined) {
    checkValue(name, "mask", options.mask);
    if (toBig(options.mask) < 0n) throw new SchemaDeclarationError(`${name}(): mask must not be negative`);
    out.mask = options.mask;
  }
  if (options.mustBeZero !== undefined) {
    if (typeof options.mustBeZero !== "boolean") {
      throw new SchemaDeclarationError(`${name}(): mustBeZero must be a boolean`);
    }
    out.mustBeZero = options.mustBeZero;
  }
  const frozen = Object.freeze(out) as IntInvariants<V>;
  if (nextSatisfying(name, frozen, SCALAR_INFO[name].min) === undefined) {
    throw new SchemaDeclarationError(`${name}(): no value satisfies the declared invariants`);
  }
  return frozen;
}

/** Whether `value` (already known to be in the kind's range) satisfies every declared invariant. */
export function satisfiesInvariants(inv: IntInvariants<number | bigint>, value: bigint): boolean {
  if (inv.mustBeZero && value !== 0n) return false;
  if (inv.min !== undefined && value < toBig(inv.min)) return false;
  if (inv.max !== undefined && value > toBig(inv.max)) return false;
  if (inv.mask !== undefined && (value & ~toBig(inv.mask)) !== 0n) return false;
  if (inv.enum !== undefined && !inv.enum.some((m) => toBig(m.value) === value)) return false;
  return true;
}

/** Smallest `x >= from` with no bit outside `mask` (negative `from` gives 0), or `undefined`. */
function nextSubmask(from: bigint, mask: bigint): bigint | undefined {
  if (from <= 0n) return 0n;
  if ((from & ~mask) === 0n) return from;
  // Highest offending bit, then the lowest mask bit above it that `from` does not have set.
  const offending = from & ~mask;
  const high = BigInt(offending.toString(2).length - 1);
  for (let bit = high + 1n; bit <= 64n; bit++) {
    const b = 1n << bit;
    if ((mask & b) !== 0n && (from & b) === 0n) return ((from >> (bit + 1n)) << (bit + 1n)) | b;
  }
  return undefined;
}

/**
 * The smallest value `>= from` of kind `name` satisfying every invariant, or `undefined` when none
 * exists. Used to check declarations for satisfiability and to build arbitraries.
 *
 * @param name - the integer kind.
 * @param inv - its invariants.
 * @param from - lower bound of the search.
 */
export function nextSatisfying(
  name: ScalarName,
  inv: IntInvariants<number | bigint>,
  from: bigint,
): bigint | undefined {
  const info = SCALAR_INFO[name];
  let lo = from < info.min ? info.min : from;
  if (inv.min !== undefined && toBig(inv.min) > lo) lo = toBig(inv.min);
  const hi = inv.max !== undefined ? toBig(inv.max) : info.max;
  if (lo > hi) return undefined;
  if (inv.enum !== undefined) {
    const candidates = inv.enum
      .map((m) => toBig(m.value))
      .filter((v) => v >= lo && satisfiesInvariants(inv, v))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return candidates[0];
  }
  if (inv.mustBeZero) return lo <= 0n && 0n <= hi ? 0n : undefined;
  if (inv.mask !== undefined) {
    const next = nextSubmask(lo, toBig(inv.mask));
    return next !== undefined && next <= hi ? next : undefined;
  }
  return lo;
}
