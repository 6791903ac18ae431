import * as fc from "fast-check";
import { showValue } from "../values/show.js";
import type { LawCheck, LawFailure } from "./report.js";

/** Default of {@link PropertyOptions.minExercised}: a law must be exercised by 20 % of its values. */
export const DEFAULT_MIN_EXERCISED = 0.2;

/** Options shared by every law checker. */
export interface PropertyOptions {
  /** Values generated per law (default 100). */
  readonly numRuns?: number;
  /** fast-check seed, to replay a failure. */
  readonly seed?: number;
  /** fast-check path, to replay a failure. */
  readonly path?: string;
  /**
   * Smallest share (0..1) of generated values for which a conditional law's precondition must
   * hold (e.g. `down(y)` succeeds); below it the law fails as vacuous instead of passing
   * unexercised (default {@link DEFAULT_MIN_EXERCISED}; 0 turns the check off).
   */
  readonly minExercised?: number;
}

/** Thrown inside a property to explain why a law does not hold. */
export class LawBroken extends Error {}

/** Returned by a property body when the law is vacuous for this value. */
export const VACUOUS = Symbol("vacuous");

/** Returned by a property body when the law is vacuous for this value, saying why (e.g. the refusal). */
export interface Vacuous {
  /** Why the precondition did not hold, grouped in the vacuity message (keep it short and stable). */
  readonly vacuous: string;
}

/** What a law is about, for reports. */
export interface LawMeta {
  readonly driver: string;
  readonly subject: string;
  readonly law: string;
  readonly version?: number;
  /** The precondition of a conditional law (`down(y) succeeds`). */
  readonly precondition?: string;
  /** The struct its values belong to (for the advice of a vacuity failure). */
  readonly struct?: string;
}

function vacuityFailure(
  meta: LawMeta,
  numRuns: number,
  reasons: Map<string, number>,
  vacuous: number,
  min: number,
  seed: number,
): LawFailure {
  const exercised = numRuns - vacuous;
  const pct = (n: number) => `${Math.round((100 * n) / numRuns)} %`;
  const top = [...reasons]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([why, n]) => `${why} (${n})`)
    .join("; ");
  const struct = meta.struct ?? "the struct";
  const reason =
    `the law is vacuous: its precondition (${meta.precondition ?? "the law's precondition"}) held for ` +
    `only ${exercised} of ${numRuns} generated values (${pct(exercised)}; at least ${Math.round(min * 100)} % required)` +
    `${top === "" ? "" : `; the others: ${top}`}. Give the checks values it accepts: a generator for ` +
    `${struct} in the \`generators\` option (generatorFor(${struct}, (values) => values.map(…)), e.g. ` +
    "one that recomputes a checksum or seal), or lower `minExercised` if the precondition is meant to be rare";
  return Object.freeze({
    kind: "vacuous" as const,
    driver: meta.driver,
    subject: meta.subject,
    ...(meta.version === undefined ? {} : { version: meta.version }),
    law: meta.law,
    counterexample: undefined,
    shown: "no value",
    reason,
    seed,
    path: "",
  });
}

/**
 * Runs one law with fast-check. `body` throws {@link LawBroken} (or anything) when the law fails
 * and may return {@link VACUOUS} or a {@link Vacuous} reason. A law that held but was vacuous for
 * more than `1 - minExercised` of the values fails as vacuous.
 *
 * @internal
 */
export function runLaw<T>(
  meta: LawMeta,
  arbitrary: fc.Arbitrary<T>,
  body: (value: T) => typeof VACUOUS | Vacuous | undefined,
  options: PropertyOptions,
): { check: LawCheck; failure?: LawFailure } {
  let vacuous = 0;
  const reasons = new Map<string, number>();
  const numRuns = options.numRuns ?? 100;
  const params: fc.Parameters<[T]> = { numRuns };
  if (options.seed !== undefined) (params as { seed?: number }).seed = options.seed;
  if (options.path !== undefined) (params as { path?: string }).path = options.path;
  const details = fc.check(
    fc.property(arbitrary, (value) => {
      const result = body(value);
      if (result === undefined) return;
      vacuous++;
      if (result !== VACUOUS) reasons.set(result.vacuous, (reasons.get(result.vacuous) ?? 0) + 1);
    }),
    params,
  );
  const min = options.minExercised ?? DEFAULT_MIN_EXERCISED;
  // A replay (`path`) runs one value: no share to judge.
  const tooVacuous =
    !details.failed &&
    options.path === undefined &&
    details.numRuns > 0 &&
    details.numRuns - vacuous < min * details.numRuns;
  const check: LawCheck = Object.freeze({
    subject: meta.subject,
    law: meta.law,
    numRuns,
    ok: !details.failed && !tooVacuous,
    vacuous,
  });
  if (tooVacuous)
    return { check, failure: vacuityFailure(meta, details.numRuns, reasons, vacuous, min, details.seed) };
  if (!details.failed) return { check };
  const counterexample = details.counterexample?.[0];
  const error = details.errorInstance;
  const reason = error instanceof Error ? error.message : String(error ?? "property returned false");
  const failure: LawFailure = Object.freeze({
    kind: "counterexample" as const,
    driver: meta.driver,
    subject: meta.subject,
    ...(meta.version === undefined ? {} : { version: meta.version }),
    law: meta.law,
    counterexample,
    shown: showValue(counterexample),
    reason,
    seed: details.seed,
    path: details.counterexamplePath ?? "",
  });
  return { check, failure };
}
