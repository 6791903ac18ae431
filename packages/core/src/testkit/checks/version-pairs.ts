/**
 * The `version-pairs` check: updates between the driver and builds speaking other versions (and
 * its peers), each crossing a population of objects. Every object must either be refused with a
 * typed error before the kexec (the old kernel keeping it intact) or be restored equal.
 */
import { LuoHookFailedError, LuoNegotiationRefusedError } from "../../luo/errors.js";
import { getDriverMetadata } from "../../luo/handlers/metadata.js";
import type { DriverClass } from "../../luo/handlers/types.js";
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
  typedChain,
  writtenVersionOf,
} from "../scenario.js";
import { withNative } from "../variants.js";

/** Scenarios (machines, each with its own seed) per pair. */
export const PAIR_SCENARIOS = 3;
/** Objects per scenario: a pair crosses {@link PAIR_SCENARIOS} × this many objects. */
export const PAIR_OBJECTS = 8;

interface Pair {
  readonly writer: DriverClass;
  readonly reader: DriverClass;
  readonly role: string;
}

/** What happened to the objects of one pair. */
interface Crossing {
  restored: number;
  refused: number;
  version: number | undefined;
  negotiation: string | undefined;
  readonly refusals: Map<string, number>;
  readonly failures: string[];
}

function pairsOf(env: Env): Pair[] {
  const { meta, Driver } = env;
  const list: Pair[] = [];
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
  return list;
}

/** The token an object-level typed refusal before the kexec names, with its reason. */
function objectRefusal(error: unknown): { token: bigint; reason: string } | undefined {
  if (!(error instanceof LuoHookFailedError) || !typedChain(error)) return undefined;
  const token = error.context.token;
  if (token === undefined) return undefined;
  const cause = error.cause;
  const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  return {
    token: BigInt(String(token)),
    reason: `${String(error.context.hook)} in ${String(error.context.phase)}: ${reason}`,
  };
}

/** The objects of `s` the old kernel still holds must be as they were. */
function intactAfterRefusal(env: Env, s: Scenario, live: ReadonlySet<number>, writer: DriverClass): string[] {
  const lk = s.harness.kernel;
  const broken: string[] = [];
  if (lk.luo.phase !== "NORMAL") broken.push(`the old kernel was left in ${lk.luo.phase}`);
  for (const i of live) {
    const m = compare(env, s, i, s.objects[i], {
      check: "version-pairs",
      kernel: lk,
      reader: writer,
      writtenVersion: undefined,
    });
    if (m !== undefined) broken.push(`token ${i + 1} changed by the refused update: ${m}`);
  }
  return broken;
}

/**
 * One scenario of a pair: objects preserved by the writer, every other one changed in brownout.
 * An object refused before the kexec is unpreserved and the update retried without it.
 */
function crossOnce(env: Env, pair: Pair, offset: number, c: Crossing): void {
  let s: Scenario;
  try {
    s = start(env, pair.writer, pair.reader, offset, true, PAIR_OBJECTS);
  } catch (error) {
    c.failures.push(`setting up the writer failed: ${errorText(error)}`);
    return;
  }
  const brownout = env.options.brownout;
  const live = new Set(s.objects.map((_, i) => i));
  let result: UpdateResult | undefined;
  while (result === undefined) {
    takeSnapshots(env, s);
    try {
      result = s.harness.update({
        brownout: (lk) => {
          if (brownout !== undefined)
            for (const i of live) if (i % 2 === 1) brownout(s.objects[i], lk, s.writer);
          takeSnapshots(env, s);
        },
      });
    } catch (error) {
      if (error instanceof LuoNegotiationRefusedError) {
        c.negotiation = error.message;
        return;
      }
      const refusal = objectRefusal(error);
      const index = refusal === undefined ? -1 : Number(refusal.token) - 1;
      if (refusal === undefined || !live.has(index)) {
        c.failures.push(`the update failed: ${errorText(error)}`);
        return;
      }
      const broken = intactAfterRefusal(env, s, live, pair.writer);
      if (broken.length > 0) {
        c.failures.push(`token ${refusal.token} refused (${refusal.reason}); but ${broken.join("; ")}`);
        return;
      }
      c.refused++;
      c.refusals.set(refusal.reason, (c.refusals.get(refusal.reason) ?? 0) + 1);
      live.delete(index);
      s.harness.session(CONFORMANCE_SESSION).unpreserve(refusal.token);
      if (live.size === 0) return;
    }
  }
  const version = writtenVersionOf(result, env.meta.name);
  c.version ??= version;
  const session = result.session(CONFORMANCE_SESSION);
  for (const i of live) {
    try {
      const m = compare(env, s, i, session.retrieve(i + 1), {
        check: "version-pairs",
        kernel: result.kernel,
        reader: pair.reader,
        writtenVersion: version,
      });
      if (m === undefined) c.restored++;
      else
        c.failures.push(
          `token ${i + 1}${i % 2 === 1 ? " (changed in brownout)" : ""} restored differently at v${version}: ${m}`,
        );
    } catch (error) {
      c.failures.push(`token ${i + 1} not restored: ${errorText(error)}`);
    }
  }
}

/** Runs the `version-pairs` check, appending each pair to `pairs`. */
export function checkVersionPairs(env: Env, pairs: VersionPairResult[]): CheckOutput {
  const out = newOutput();
  const list = pairsOf(env);
  list.forEach((pair, index) => {
    const label = `${pair.role} (${pair.writer.name} → ${pair.reader.name})`;
    const c: Crossing = {
      restored: 0,
      refused: 0,
      version: undefined,
      negotiation: undefined,
      refusals: new Map(),
      failures: [],
    };
    for (let k = 0; k < PAIR_SCENARIOS && c.negotiation === undefined; k++) {
      crossOnce(env, pair, 10 + index * PAIR_SCENARIOS + k, c);
    }
    const objects = c.restored + c.refused + c.failures.length;
    const reasons = [...c.refusals].map(([why, n]) => `${n} × ${why}`).join("; ");
    const outcome: VersionPairResult["outcome"] =
      c.failures.length > 0
        ? "failed"
        : c.negotiation !== undefined || c.restored === 0
          ? "refused"
          : "restored";
    const detail =
      c.negotiation !== undefined
        ? `negotiation refused: ${c.negotiation}`
        : `${objects} object(s): ${c.restored} restored equal, ${c.refused} refused with a typed error before the kexec` +
          `${reasons === "" ? "" : ` (${reasons})`}`;
    const wm = getDriverMetadata(pair.writer)!;
    const rm = getDriverMetadata(pair.reader)!;
    pairs.push({
      writer: pair.writer.name,
      reader: pair.reader.name,
      writes: wm.writes,
      reads: rm.reads,
      version: c.version,
      outcome,
      detail,
      restored: c.restored,
      refused: c.refused,
      failed: c.failures.length,
    });
    out.details.push(`${label}: ${outcome}${c.version !== undefined ? ` at v${c.version}` : ""} — ${detail}`);
    for (const f of c.failures) out.failures.push({ message: `${label}: ${f}` });
  });
  const restored = pairs.reduce((n, p) => n + p.restored, 0);
  const refused = pairs.reduce((n, p) => n + p.refused, 0);
  out.summary =
    list.length === 0
      ? "single version and no peers: covered by the update check"
      : `${list.length} (writer, reader) pair(s), ${PAIR_SCENARIOS * PAIR_OBJECTS} objects each: ` +
        `${restored} restored equal, ${refused} refused with a typed error before the kexec`;
  return out;
}
