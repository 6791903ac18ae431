import type * as fc from "fast-check";
import type { AnyStruct, Infer } from "../declare/types.js";

/**
 * How the law checks get values of one struct, given the candidates the schema yields (values valid
 * by construction from the declaration's refinements; for the newer version of a migrator, also
 * `up` of generated older values with the fields the newer version added varied):
 * - a function of those candidates — e.g. `(values) => values.map(reseal)` for a state with a
 *   checksum or seal, which random values almost never match;
 * - an arbitrary — then only its values are used.
 *
 * @typeParam V - the struct's value type.
 */
export type ValueGenerator<V> = fc.Arbitrary<V> | ((candidates: fc.Arbitrary<V>) => fc.Arbitrary<V>);

/** A {@link ValueGenerator} bound to its struct (see {@link generatorFor}); the types are erased. */
export interface StructGenerator {
  /** The struct whose values it generates (a schema version's struct, or a nested struct). */
  readonly struct: AnyStruct;
  /** The generator. */
  readonly generate: ValueGenerator<unknown>;
}

/**
 * Binds a generator to the struct whose values it makes, for the `generators` option of the law
 * checks and of the conformance suite. Applies wherever values of `struct` are generated: as a
 * schema version's root value, and as a nested struct (a pointee, an array element).
 *
 * @param struct - the struct (e.g. `CounterRingV2`, or `Schema.version(2).struct`).
 * @param generate - a function of the schema-derived candidates, or an arbitrary replacing them.
 * @example
 * ```ts
 * // A v2 state carries a seal over its other fields: recompute it on every candidate.
 * const sealed = generatorFor(CounterRingV2, (values) =>
 *   values.map(({ seal: _, ...state }) => ({ ...state, seal: sealOf(state) })),
 * );
 * assertLaws(checkMigratorLaws(CounterRingSchema, { generators: [sealed] }));
 * ```
 */
export function generatorFor<S extends AnyStruct>(
  struct: S,
  generate: ValueGenerator<Infer<S>>,
): StructGenerator {
  return Object.freeze({ struct, generate: generate as ValueGenerator<unknown> });
}

/** `candidates` as the author's generator for `struct` (if any) turns them into values. */
export function applyGenerator(
  struct: AnyStruct,
  candidates: fc.Arbitrary<unknown>,
  generators: readonly StructGenerator[] | undefined,
): fc.Arbitrary<unknown> {
  const found = generators?.find((g) => g.struct === struct);
  if (found === undefined) return candidates;
  return typeof found.generate === "function" ? found.generate(candidates) : found.generate;
}
