/** What the two law checks share: the schemas of a driver and its FLBs, law failures as conformance failures. */
import { getFlbMetadata } from "../../luo/handlers/metadata.js";
import { brief, type MigratorLawOptions } from "../../schema/laws/migrator-laws.js";
import type { LawReport } from "../../schema/laws/report.js";
import type { VersionedSchema } from "../../schema/versions/versioned.js";
import type { ConformanceFailure } from "../report.js";
import type { Env } from "../scenario.js";

/** One conformance failure per law failure, with the counterexample and the seed to replay it. */
export function lawFailures(report: LawReport): ConformanceFailure[] {
  return report.failures.map((f) => ({
    message:
      f.kind === "vacuous"
        ? `${f.subject}: ${f.law}: ${f.reason} (seed ${f.seed})`
        : `${f.subject}: ${f.law} fails for ${brief(f.shown)}: ${f.reason} (seed ${f.seed}, path "${f.path}")`,
  }));
}

/** The law checks' options of a run: runs, seed, the author's generators, the vacuity bound. */
export function lawOptions(env: Env): MigratorLawOptions {
  const o = env.options;
  return {
    numRuns: o.numRuns ?? 100,
    seed: env.seed,
    ...(o.generators !== undefined ? { generators: o.generators } : {}),
    ...(o.minExercised !== undefined ? { minExercised: o.minExercised } : {}),
  };
}

/** The driver's schema, then its FLBs' schemas. */
export function schemasOf(env: Env): VersionedSchema[] {
  const flbs = env.meta
    .flbs()
    .map((flb) => getFlbMetadata(flb)?.schema)
    .filter((s) => s !== undefined);
  return [env.meta.schema, ...flbs];
}
