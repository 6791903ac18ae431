import * as fc from "fast-check";
import { derivedFields } from "../codec/shape.js";
import type { NeighbourMigrator } from "../versions/migrator.js";
import type { SchemaVersion } from "../versions/schema-version.js";
import { type ArbitraryOptions, arbitraryFor, builderFor, candidatesFor } from "./arbitrary.js";
import { applyGenerator } from "./generators.js";

/**
 * Fields of `upper` that `lower` does not have (by name), leaving out reserved bytes and count or
 * length fields (those follow their arrays).
 */
export function addedFields(lower: SchemaVersion, upper: SchemaVersion): string[] {
  const derived = derivedFields(upper.struct);
  return Object.entries(upper.struct.fields)
    .filter(
      ([name, type]) => type.kind !== "reserved" && !derived.has(name) && !(name in lower.struct.fields),
    )
    .map(([name]) => name);
}

/** Arrays and areas longer than this are varied in a few elements rather than regenerated whole. */
const SPARSE_FROM = 16;

function lengthOf(value: unknown): number | undefined {
  return Array.isArray(value) || value instanceof Uint8Array ? value.length : undefined;
}

/** `now` with one to three of its elements replaced by fresh `element`s. */
function sparseEdit(now: ArrayLike<unknown>, element: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const edits = fc.array(fc.tuple(fc.nat(now.length - 1), element), { minLength: 1, maxLength: 3 });
  return edits.map((list) => {
    const out: unknown[] | Uint8Array = now instanceof Uint8Array ? Uint8Array.from(now) : Array.from(now);
    for (const [at, value] of list) (out as unknown[])[at] = value;
    return out;
  });
}

/**
 * Values of the newer version of migrator `m` for the laws about `down`: values derived from the
 * declaration, and — twice as often — `up` of a generated older value with each field the newer
 * version added kept or varied (arrays keep their length, so count fields and invariants
 * such as "one flag per slot" still hold). Random values of a version with a checksum or
 * cross-field rule are almost all refused by `down`; `up`-derived ones mostly are not. The author's
 * generator of the newer struct, if any, applies to the mix.
 *
 * @param m - the neighbour migrator.
 * @param lower - its lower version.
 * @param upper - its upper version.
 * @param options - generation bounds and the author's generators.
 */
export function downCandidates(
  m: NeighbourMigrator,
  lower: SchemaVersion,
  upper: SchemaVersion,
  options: ArbitraryOptions,
): fc.Arbitrary<unknown> {
  const plain = candidatesFor(upper.struct, options);
  const builder = builderFor(upper.struct, options);
  const added = addedFields(lower, upper);
  const migrated = arbitraryFor(lower.struct, options).chain((x) => {
    let y: Record<string, unknown>;
    try {
      y = m.up(x) as Record<string, unknown>;
    } catch {
      return plain; // the law about up reports it
    }
    // (Whether up's values are valid is the law about up's business: not checked twice here.)
    if (added.length === 0) return fc.constant(y);
    // Each added field kept (a field may have one meaningful value, e.g. "no label") or varied.
    const varied: Record<string, fc.Arbitrary<unknown>> = {};
    for (const name of added) {
      const now = y[name];
      const length = lengthOf(now);
      const fresh =
        length === undefined || length <= SPARSE_FROM
          ? builder.field(upper.struct, name, length)
          : sparseEdit(now as ArrayLike<unknown>, builder.element(upper.struct, name));
      varied[name] = fc.oneof(fc.constant(now), fresh);
    }
    return fc.record(varied).map((v) => ({ ...y, ...v }));
  });
  // Cross-shrinking moves a counterexample to the plain values, which shrink best.
  const mix = fc.oneof(
    { withCrossShrink: true },
    { arbitrary: plain, weight: 1 },
    { arbitrary: migrated, weight: 2 },
  );
  return applyGenerator(upper.struct, mix, options.generators);
}
