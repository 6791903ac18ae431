import * as fc from "fast-check";
import { showValue } from "../values/show.js";
import type { LawCheck, LawFailure } from "./report.js";

/** Options shared by every law checker. */
export interface PropertyOptions {
  /** Values generated per law (default 100). */
  readonly numRuns?: number;
  /** fast-check seed, to replay a failure. */
  readonly seed?: number;
  /** fast-check path, to replay a failure. */
  readonly path?: string;
}

/** Thrown inside a property to explain why a law does not hold. */
export class LawBroken extends Error {}

/** Returned by a property body when the law is vacuous for this value. */
export const VACUOUS = Symbol("vacuous");

/**
 * Runs one law with fast-check. `body` throws {@link LawBroken} (or anything) when the law fails
 * and may return {@link VACUOUS}.
 *
 * @internal
 */
export function runLaw<T>(
  meta: { driver: string; subject: string; law: string; version?: number },
  arbitrary: fc.Arbitrary<T>,
  body: (value: T) => typeof VACUOUS | undefined,
  options: PropertyOptions,
): { check: LawCheck; failure?: LawFailure } {
  let vacuous = 0;
  const numRuns = options.numRuns ?? 100;
  const params: fc.Parameters<[T]> = { numRuns };
  if (options.seed !== undefined) (params as { seed?: number }).seed = options.seed;
  if (options.path !== undefined) (params as { path?: string }).path = options.path;
  const details = fc.check(
    fc.property(arbitrary, (value) => {
      if (body(value) === VACUOUS) vacuous++;
    }),
    params,
  );
  const check: LawCheck = Object.freeze({
    subject: meta.subject,
    law: meta.law,
    numRuns,
    ok: !details.failed,
    vacuous,
  });
  if (!details.failed) return { check };
  const counterexample = details.counterexample?.[0];
  const error = details.errorInstance;
  const reason = error instanceof Error ? error.message : String(error ?? "property returned false");
  const failure: LawFailure = Object.freeze({
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
