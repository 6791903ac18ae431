/** What the two law checks share: the schemas of a driver and its FLBs, law failures as conformance failures. */
import { getFlbMetadata } from "../../luo/handlers/metadata.js";
import type { LawReport } from "../../schema/laws/report.js";
import type { VersionedSchema } from "../../schema/versions/versioned.js";
import type { ConformanceFailure } from "../report.js";
import type { Env } from "../scenario.js";

/** One conformance failure per law failure, with the counterexample and the seed to replay it. */
export function lawFailures(report: LawReport): ConformanceFailure[] {
  return report.failures.map((f) => ({
    message: `${f.subject}: ${f.law} fails for ${f.shown}: ${f.reason} (seed ${f.seed}, path "${f.path}")`,
  }));
}

/** The driver's schema, then its FLBs' schemas. */
export function schemasOf(env: Env): VersionedSchema[] {
  const flbs = env.meta
    .flbs()
    .map((flb) => getFlbMetadata(flb)?.schema)
    .filter((s) => s !== undefined);
  return [env.meta.schema, ...flbs];
}
