import { SchemaLawViolationError } from "../errors.js";

/** One property that was checked. */
export interface LawCheck {
  /** What was checked: a migrator name (`"fs v1↔v2"`) or a codec (`"fs v1 codec"`). */
  readonly subject: string;
  /** The law, e.g. `"down(up(x)) = x"`. */
  readonly law: string;
  /** Number of generated values tried. */
  readonly numRuns: number;
  /** Whether the law held for all of them. */
  readonly ok: boolean;
  /** Values for which the law was vacuous (e.g. `down(y)` refused for an injective migrator). */
  readonly vacuous: number;
}

/** A law that failed, with a shrunk counterexample and the seed to replay it. */
export interface LawFailure {
  /**
   * `counterexample`: a value breaks the law; `vacuous`: the law held, but its precondition held
   * for too few generated values to mean anything (see `PropertyOptions.minExercised`).
   */
  readonly kind: "counterexample" | "vacuous";
  /** Driver (or struct) name. */
  readonly driver: string;
  /** What was checked (see {@link LawCheck.subject}). */
  readonly subject: string;
  /** Version of the values the counterexample belongs to. */
  readonly version?: number;
  /** The law that failed. */
  readonly law: string;
  /** The shrunk counterexample value. */
  readonly counterexample: unknown;
  /** The counterexample rendered for humans. */
  readonly shown: string;
  /** Why the law failed for it. */
  readonly reason: string;
  /** fast-check seed and path to replay the failure. */
  readonly seed: number;
  /** fast-check counterexample path. */
  readonly path: string;
}

/** Result of a law check: every property checked and every failure. */
export interface LawReport {
  /** `true` when every law held. */
  readonly ok: boolean;
  /** Every property checked. */
  readonly checks: readonly LawCheck[];
  /** Every failure. */
  readonly failures: readonly LawFailure[];
}

/**
 * Combines several reports into one.
 *
 * @param reports - reports to merge.
 */
export function mergeReports(...reports: readonly LawReport[]): LawReport {
  const checks = reports.flatMap((r) => r.checks);
  const failures = reports.flatMap((r) => r.failures);
  return Object.freeze({ ok: failures.length === 0, checks, failures });
}

/**
 * Throws a {@link SchemaLawViolationError} describing the first failure of `report` (context:
 * driver, subject/migrator, law, counterexample, seed), or returns the report when every law held.
 *
 * @param report - a report from {@link checkMigratorLaws}, {@link checkRoundTrip} or {@link checkSchemaLaws}.
 * @example
 * ```ts
 * it("migrator laws hold", () => {
 *   assertLaws(checkMigratorLaws(Guestmemfs, { numRuns: 200 }));
 * });
 * ```
 */
export function assertLaws(report: LawReport): LawReport {
  const failure = report.failures[0];
  if (failure === undefined) return report;
  throw new SchemaLawViolationError(
    failure.kind === "vacuous"
      ? `${failure.subject}: law ${failure.law}: ${failure.reason} (seed ${failure.seed})`
      : `${failure.subject}: law ${failure.law} fails for ${failure.shown}: ${failure.reason} (seed ${failure.seed}, path ${JSON.stringify(failure.path)})`,
    {
      driver: failure.driver,
      version: failure.version,
      migrator: failure.subject,
      law: failure.law,
      kind: failure.kind,
      counterexample: failure.counterexample,
      reason: failure.reason,
      seed: failure.seed,
      replayPath: failure.path,
      failures: report.failures.length,
    },
  );
}
