/** The `migrator-laws` check: every law of every migrator of the driver's (and its FLBs') schemas. */
import { checkMigratorLaws } from "../../schema/laws/migrator-laws.js";
import { type CheckOutput, type Env, newOutput } from "../scenario.js";
import { lawFailures, lawOptions, schemasOf } from "./laws.js";

/** Runs the `migrator-laws` check. */
export function checkMigrators(env: Env): CheckOutput {
  const out = newOutput();
  let laws = 0;
  for (const schema of schemasOf(env)) {
    if (schema.migrators.length === 0) continue;
    const report = checkMigratorLaws(schema, lawOptions(env));
    for (const c of report.checks) {
      laws++;
      out.details.push(
        `${c.subject}: ${c.law}: ${c.ok ? "ok" : "FAILS"} (${c.numRuns} values, ${c.vacuous} vacuous` +
          `${c.vacuous === c.numRuns ? ": every run was vacuous, the law was not exercised" : ""})`,
      );
    }
    out.failures.push(...lawFailures(report));
  }
  out.summary = laws === 0 ? "no migrators (single version)" : `${laws} migrator law(s)`;
  return out;
}
