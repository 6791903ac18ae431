/** The `version-pairs` check: updates between the driver and builds speaking other versions. */

import { LuoHookFailedError, LuoNegotiationRefusedError } from "../../luo/errors.js";
import { getDriverMetadata } from "../../luo/handlers/metadata.js";
import type { DriverClass } from "../../luo/handlers/types.js";
import { SchemaDowngradeRefusedError, SchemaLossyRefusedError } from "../../schema/errors.js";
import type { UpdateResult } from "../harness.js";
import type { VersionPairResult } from "../report.js";
import {
  type CheckOutput,
  CONFORMANCE_SESSION,
  compare,
  type Env,
  errorText,
  newOutput,
  type Scenario,
  start,
  takeSnapshots,
  writtenVersionOf,
} from "../scenario.js";
import { withNative } from "../variants.js";

function refusalReason(error: unknown): string | undefined {
  if (error instanceof LuoNegotiationRefusedError) return `negotiation refused: ${error.message}`;
  if (error instanceof LuoHookFailedError) {
    const cause = error.cause;
    if (cause instanceof SchemaDowngradeRefusedError || cause instanceof SchemaLossyRefusedError) {
      return `token ${String(error.context.token)}: ${cause.message}`;
    }
  }
  return undefined;
}

/** Attempts per pair when a down-migration refuses a generated object (other objects may cross). */
const PAIR_ATTEMPTS = 4;

/** Runs the `version-pairs` check, appending each pair to `pairs`. */
export function checkVersionPairs(env: Env, pairs: VersionPairResult[]): CheckOutput {
  const out = newOutput();
  const { meta, Driver } = env;
  const list: { writer: DriverClass; reader: DriverClass; role: string }[] = [];
  for (const v of meta.schema.versions.map((x) => x.version)) {
    if (v === meta.native) continue;
    list.push({ writer: Driver, reader: withNative(Driver, v), role: `writes v${v}` });
    list.push({ writer: withNative(Driver, v), reader: Driver, role: `reads v${v}` });
  }
  for (const peer of env.options.peers ?? []) {
    list.push(
      { writer: Driver, reader: peer, role: `to peer ${peer.name}` },
      { writer: peer, reader: Driver, role: `from peer ${peer.name}` },
    );
  }
  list.forEach((pair, index) => {
    const wm = getDriverMetadata(pair.writer)!;
    const rm = getDriverMetadata(pair.reader)!;
    const label = `${pair.role} (${pair.writer.name} → ${pair.reader.name})`;
    const record = (outcome: VersionPairResult["outcome"], version: number | undefined, detail: string) => {
      pairs.push({
        writer: pair.writer.name,
        reader: pair.reader.name,
        writes: wm.writes,
        reads: rm.reads,
        version,
        outcome,
        detail,
      });
      out.details.push(
        `${label}: ${outcome}${version !== undefined ? ` at v${version}` : ""}${detail ? ` — ${detail}` : ""}`,
      );
      if (outcome === "failed") out.failures.push({ message: `${label}: ${detail}` });
    };
    const refusals: string[] = [];
    for (let attempt = 0; attempt < PAIR_ATTEMPTS; attempt++) {
      const outcome = runPair(env, pair.writer, pair.reader, 10 + index * PAIR_ATTEMPTS + attempt);
      if (outcome.outcome === "refused") {
        refusals.push(outcome.detail);
        // A refused value may be one this set of objects happens to hold: try other objects.
        if (outcome.byValue && attempt + 1 < PAIR_ATTEMPTS) continue;
        record("refused", undefined, refusals.join("; "));
        return;
      }
      const before =
        refusals.length > 0 ? ` (after ${refusals.length} object set(s) refused: ${refusals[0]})` : "";
      record(outcome.outcome, outcome.version, `${outcome.detail}${before}`);
      return;
    }
  });
  const restored = pairs.filter((p) => p.outcome === "restored").length;
  const refused = pairs.filter((p) => p.outcome === "refused").length;
  out.summary =
    list.length === 0
      ? "single version and no peers: covered by the update check"
      : `${list.length} (writer, reader) pair(s): ${restored} restored, ${refused} refused with a typed error`;
  return out;
}

function runPair(
  env: Env,
  writer: DriverClass,
  reader: DriverClass,
  offset: number,
): { outcome: VersionPairResult["outcome"]; version?: number; detail: string; byValue?: boolean } {
  let s: Scenario;
  try {
    s = start(env, writer, reader, offset);
    takeSnapshots(env, s);
  } catch (error) {
    return { outcome: "failed", detail: `setting up the writer failed: ${errorText(error)}` };
  }
  let result: UpdateResult;
  try {
    result = s.harness.update();
  } catch (error) {
    const reason = refusalReason(error);
    if (reason === undefined) return { outcome: "failed", detail: `the update failed: ${errorText(error)}` };
    const lk = s.harness.kernel;
    const broken: string[] = [];
    if (lk.luo.phase !== "NORMAL") broken.push(`old kernel left in ${lk.luo.phase}`);
    s.objects.forEach((o, i) => {
      const m = compare(env, s, i, o, {
        check: "version-pairs",
        kernel: lk,
        reader: writer,
        writtenVersion: undefined,
      });
      if (m !== undefined) broken.push(`token ${i + 1} changed by the refused update: ${m}`);
    });
    if (broken.length > 0) return { outcome: "failed", detail: `${reason}; but ${broken.join("; ")}` };
    return { outcome: "refused", detail: reason, byValue: !(error instanceof LuoNegotiationRefusedError) };
  }
  const version = writtenVersionOf(result, env.meta.name);
  const problems: string[] = [];
  const session = result.session(CONFORMANCE_SESSION);
  s.objects.forEach((_, i) => {
    try {
      const m = compare(env, s, i, session.retrieve(i + 1), {
        check: "version-pairs",
        kernel: result.kernel,
        reader,
        writtenVersion: version,
      });
      if (m !== undefined) problems.push(`token ${i + 1}: ${m}`);
    } catch (error) {
      problems.push(`token ${i + 1} not restored: ${errorText(error)}`);
    }
  });
  if (problems.length > 0) return { outcome: "failed", version, detail: problems.join("; ") };
  return { outcome: "restored", version, detail: "" };
}
