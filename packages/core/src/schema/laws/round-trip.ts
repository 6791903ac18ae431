import { codecFor } from "../codec/codec.js";
import type { AnyStruct } from "../declare/types.js";
import { InMemorySchemaMemory } from "../memory/in-memory.js";
import { ioTypeOf } from "../validate/io-types.js";
import { valuesEqual } from "../values/equal.js";
import { showValue } from "../values/show.js";
import type { SchemaVersion } from "../versions/schema-version.js";
import type { VersionedSchema } from "../versions/versioned.js";
import { type ArbitraryOptions, arbitraryFor } from "./arbitrary.js";
import { checkMigratorLaws, type MigratorLawOptions } from "./migrator-laws.js";
import { LawBroken, type PropertyOptions, runLaw } from "./property.js";
import { type LawReport, mergeReports } from "./report.js";

/** The law checked by {@link checkRoundTrip}. */
export const ROUND_TRIP_LAW = "decode(encode(x)) = x";

/** Options of {@link checkRoundTrip}. */
export interface RoundTripOptions extends PropertyOptions, ArbitraryOptions {}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/**
 * Checks the codec round trip of a struct or schema version over generated values: the value is
 * valid for the io-ts type, `decode(encode(x)) = x` (through an {@link InMemorySchemaMemory}), and
 * encoding is deterministic (re-encoding the decoded value gives the same bytes).
 *
 * @param target - a struct, or a {@link SchemaVersion} (errors then name driver and version).
 * @param options - runs, seed, generation bounds.
 * @example
 * ```ts
 * assertLaws(checkRoundTrip(Guestmemfs.version(2), { numRuns: 500 }));
 * ```
 */
export function checkRoundTrip(target: AnyStruct | SchemaVersion, options: RoundTripOptions = {}): LawReport {
  const isVersion = !("kind" in target && target.kind === "struct");
  const struct: AnyStruct = isVersion ? (target as SchemaVersion).struct : (target as AnyStruct);
  const codec = isVersion ? (target as SchemaVersion).codec : codecFor(struct);
  const driver = isVersion ? (target as SchemaVersion).driver : struct.name;
  const version = isVersion ? (target as SchemaVersion).version : undefined;
  const subject = version === undefined ? `${driver} codec` : `${driver} v${version} codec`;
  const io = ioTypeOf(struct);
  const result = runLaw(
    { driver, subject, law: ROUND_TRIP_LAW, ...(version === undefined ? {} : { version }) },
    arbitraryFor(struct, options),
    (x) => {
      if (!io.is(x)) throw new LawBroken("generated value is rejected by the io-ts type");
      const memory = new InMemorySchemaMemory();
      let bytes: Uint8Array;
      let back: unknown;
      try {
        bytes = codec.encode(x, memory);
        back = codec.decode(bytes, memory);
      } catch (e) {
        throw new LawBroken(describeError(e));
      }
      if (!valuesEqual(back, x)) throw new LawBroken(`decoded ${showValue(back)}`);
      const again = codec.encode(back, new InMemorySchemaMemory());
      if (!valuesEqual(again, bytes))
        throw new LawBroken("re-encoding the decoded value gives different bytes");
      return undefined;
    },
    options,
  );
  return Object.freeze({
    ok: result.failure === undefined,
    checks: [result.check],
    failures: result.failure === undefined ? [] : [result.failure],
  });
}

/**
 * Every law of a versioned schema: the codec round trip of each version and the laws of each
 * neighbour migrator. What the testkit's conformance suite runs for a driver.
 *
 * @param schema - the versioned schema.
 * @param options - runs, seed, generation bounds.
 * @example
 * ```ts
 * assertLaws(checkSchemaLaws(Guestmemfs));
 * ```
 */
export function checkSchemaLaws(schema: VersionedSchema, options: MigratorLawOptions = {}): LawReport {
  const roundTrips = schema.versions.map((v) => checkRoundTrip(v, options));
  return mergeReports(...roundTrips, checkMigratorLaws(schema, options));
}
