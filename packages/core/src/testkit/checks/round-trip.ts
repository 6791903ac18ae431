/** The `round-trip` check: `decode(encode(x)) = x` for every version of the driver's schemas. */
import { checkRoundTrip } from "../../schema/laws/round-trip.js";
import { type CheckOutput, type Env, newOutput } from "../scenario.js";
import { lawFailures, lawOptions, schemasOf } from "./laws.js";

/** Runs the `round-trip` check. */
export function checkRoundTrips(env: Env): CheckOutput {
  const out = newOutput();
  let versions = 0;
  for (const schema of schemasOf(env)) {
    for (const version of schema.versions) {
      const report = checkRoundTrip(version, lawOptions(env));
      versions++;
      out.details.push(
        `${version.compatible}: ${report.ok ? "ok" : "FAILS"} (${report.checks[0]?.numRuns ?? 0} values)`,
      );
      out.failures.push(...lawFailures(report));
    }
  }
  out.summary = `decode(encode(x)) = x for ${versions} schema version(s)`;
  return out;
}
