import { SchemaDowngradeRefusedError } from "../errors.js";
import { valuesEqual } from "../values/equal.js";
import { showValue } from "../values/show.js";
import type { NeighbourMigrator } from "../versions/migrator.js";
import type { VersionedSchema } from "../versions/versioned.js";
import { type ArbitraryOptions, arbitraryFor } from "./arbitrary.js";
import { downCandidates } from "./candidates.js";
import { valueDiff } from "./diff.js";
import { LawBroken, type PropertyOptions, runLaw, type Vacuous } from "./property.js";
import type { LawCheck, LawFailure, LawReport } from "./report.js";

/** Options of {@link checkMigratorLaws}. */
export interface MigratorLawOptions extends PropertyOptions, ArbitraryOptions {
  /** Lower versions of the migrators to check (default: all). */
  readonly only?: readonly number[];
  /**
   * Check only this law (one of {@link MIGRATOR_LAWS}); with `seed` and `path` from a
   * {@link LawFailure} this replays exactly that failure.
   */
  readonly law?: string;
}

/** Names of the migrator laws, as they appear in {@link LawCheck.law} and {@link LawFailure.law}. */
export interface MigratorLaws {
  /** Every kind: `down(up(x)) = x`. */
  readonly roundTripUp: string;
  /** `iso`: `up(down(y)) = y`. */
  readonly roundTripDown: string;
  /** `injective`: `up(down(y)) = y` whenever `down(y)` succeeds. */
  readonly roundTripDownWhenDefined: string;
  /** `lossy`: `down(y)` is a valid value or a typed refusal. */
  readonly downValid: string;
}

/** The laws checked for each migrator kind. */
export const MIGRATOR_LAWS: MigratorLaws = Object.freeze({
  roundTripUp: "down(up(x)) = x",
  roundTripDown: "up(down(y)) = y",
  roundTripDownWhenDefined: "up(down(y)) = y whenever down(y) succeeds",
  downValid: "down(y) is a valid value or a refusal",
});

/** `text` cut to a readable length (a value with a 1,000-element array is not). */
export function brief(text: string, max = 240): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function attempt<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new LawBroken(`${what} threw ${describeError(e)}`);
  }
}

/**
 * Checks the laws of one neighbour migrator of `schema` with values generated from the version
 * declarations:
 * - every kind: `down(up(x)) = x` for all vN values `x` (and `up(x)` must be a valid vN+1 value);
 * - `iso`: `up(down(y)) = y` for all vN+1 values `y` (`down` must never refuse);
 * - `injective`: `up(down(y)) = y` whenever `down(y)` succeeds;
 * - `injective` and `lossy`: `down(y)` is a valid vN value or a typed refusal.
 *
 * The vN+1 values of the laws about `down` mix values derived from the declaration with `up` of
 * generated vN values whose added fields are varied; `options.generators` turns them into
 * meaningful ones (e.g. recomputes a seal). A law about `down` whose precondition (`down(y)`
 * succeeds) held for fewer than `options.minExercised` of the values fails as vacuous.
 *
 * @param schema - the versioned schema.
 * @param lower - the migrator's lower version N.
 * @param options - runs, seed, generation bounds.
 */
export function checkMigrator(
  schema: VersionedSchema,
  lower: number,
  options: MigratorLawOptions = {},
): LawReport {
  const m: NeighbourMigrator = schema.migrator(lower);
  const lowerVersion = schema.version(lower);
  const upperVersion = schema.version(lower + 1);
  const checks: LawCheck[] = [];
  const failures: LawFailure[] = [];
  const record = (result: { check: LawCheck; failure?: LawFailure }) => {
    checks.push(result.check);
    if (result.failure !== undefined) failures.push(result.failure);
  };
  const meta = (law: string, version: number) => ({
    driver: schema.name,
    subject: m.name,
    law,
    version,
    precondition: "down(y) succeeds",
    struct: schema.version(version).struct.name,
  });
  const wanted = (law: string) => options.law === undefined || options.law === law;
  const valid = (version: typeof lowerVersion, value: unknown, what: string) => {
    if (!version.ioType.is(value)) {
      const issues = (() => {
        try {
          version.validate(value);
          return "";
        } catch (e) {
          return describeError(e);
        }
      })();
      throw new LawBroken(`${what} is not a valid v${version.version} value: ${issues || showValue(value)}`);
    }
  };

  // down(y), or why the migrator refused y — allowed for injective and lossy ones only.
  const downOf = (y: unknown): { value: unknown } | Vacuous => {
    try {
      return { value: m.down(y) };
    } catch (e) {
      if (m.kind !== "iso" && e instanceof SchemaDowngradeRefusedError) {
        const { path, reason } = e.context as { path?: unknown; reason?: unknown };
        return {
          vacuous: `down refused ${String(path)}${reason === undefined ? "" : `: ${String(reason)}`}`,
        };
      }
      throw new LawBroken(`down(y) threw ${describeError(e)}`);
    }
  };

  if (wanted(MIGRATOR_LAWS.roundTripUp)) {
    record(
      runLaw(
        meta(MIGRATOR_LAWS.roundTripUp, lower),
        arbitraryFor(lowerVersion.struct, options),
        (x) => {
          const y = attempt("up(x)", () => m.up(x));
          valid(upperVersion, y, "up(x)");
          const back = attempt("down(up(x))", () => m.down(y));
          valid(lowerVersion, back, "down(up(x))");
          if (!valuesEqual(back, x)) {
            throw new LawBroken(
              `down(up(x)) ≠ x: ${valueDiff(x, back) ?? "differs"} (down(up(x)) = ${brief(showValue(back))})`,
            );
          }
          return undefined;
        },
        options,
      ),
    );
  }

  const downLaw = m.kind === "iso" ? MIGRATOR_LAWS.roundTripDown : MIGRATOR_LAWS.roundTripDownWhenDefined;
  if ((m.kind === "iso" || m.kind === "injective") && wanted(downLaw)) {
    const law = downLaw;
    record(
      runLaw(
        meta(law, lower + 1),
        downCandidates(m, lowerVersion, upperVersion, options),
        (y) => {
          const down = downOf(y);
          if (!("value" in down)) return down;
          const x = down.value;
          valid(lowerVersion, x, "down(y)");
          const again = attempt("up(down(y))", () => m.up(x));
          if (!valuesEqual(again, y)) {
            throw new LawBroken(
              `up(down(y)) ≠ y: ${valueDiff(y, again) ?? "differs"} (up(down(y)) = ${brief(showValue(again))})`,
            );
          }
          return undefined;
        },
        options,
      ),
    );
  }
  if (m.kind === "lossy" && wanted(MIGRATOR_LAWS.downValid)) {
    record(
      runLaw(
        meta(MIGRATOR_LAWS.downValid, lower + 1),
        downCandidates(m, lowerVersion, upperVersion, options),
        (y) => {
          const down = downOf(y);
          if (!("value" in down)) return down;
          valid(lowerVersion, down.value, "down(y)");
          return undefined;
        },
        options,
      ),
    );
  }
  return Object.freeze({ ok: failures.length === 0, checks, failures });
}

/**
 * Checks the laws of every neighbour migrator of `schema` (or those listed in `options.only`) —
 * see {@link checkMigrator} for the laws per kind. Returns a report; pass it to
 * {@link assertLaws} to throw a {@link SchemaLawViolationError} naming the migrator, the law and
 * a shrunk counterexample.
 *
 * @param schema - the versioned schema.
 * @param options - runs, seed, which migrators, generation bounds.
 * @example
 * ```ts
 * const report = checkMigratorLaws(Guestmemfs, { numRuns: 200 });
 * for (const f of report.failures) console.log(f.subject, f.law, f.shown);
 * assertLaws(report);
 * ```
 */
export function checkMigratorLaws(schema: VersionedSchema, options: MigratorLawOptions = {}): LawReport {
  const checks: LawCheck[] = [];
  const failures: LawFailure[] = [];
  for (const m of schema.migrators) {
    if (options.only !== undefined && !options.only.includes(m.lower)) continue;
    const report = checkMigrator(schema, m.lower, options);
    checks.push(...report.checks);
    failures.push(...report.failures);
  }
  return Object.freeze({ ok: failures.length === 0, checks, failures });
}
