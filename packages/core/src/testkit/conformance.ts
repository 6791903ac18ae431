import type { DependencyContainer } from "tsyringe";
import { hex, LiveUpdateError } from "../common/errors.js";
import { Prng } from "../common/prng.js";
import { PAGE_SIZE } from "../hw/units.js";
import { defineKernelBuild, type KernelBuild } from "../kernel/build.js";
import { VirtualLayout } from "../kernel/layout.js";
import type { LiveUpdateKernel } from "../luo/boot.js";
import { LuoHookFailedError, LuoNegotiationRefusedError } from "../luo/errors.js";
import { getDriverMetadata, getFlbMetadata } from "../luo/handlers/metadata.js";
import type { DriverClass, DriverMetadata } from "../luo/handlers/types.js";
import { folioBytes } from "../luo/memory.js";
import type { LuoOptions } from "../luo/orchestrator.js";
import { SchemaDowngradeRefusedError, SchemaLossyRefusedError } from "../schema/errors.js";
import { checkMigratorLaws } from "../schema/laws/migrator-laws.js";
import type { LawReport } from "../schema/laws/report.js";
import { checkRoundTrip } from "../schema/laws/round-trip.js";
import type { VersionedSchema } from "../schema/versions/versioned.js";
import { CORRUPTION_KINDS, planCorruption } from "./corruption.js";
import { DriverConformanceError } from "./errors.js";
import type { LuoHandoverImage } from "./handover-image.js";
import { LiveUpdateHarness, type UpdateResult } from "./harness.js";
import { MemorySnapshot } from "./memory-snapshot.js";
import { type Expectation, HandoverOracle, objectKey } from "./oracle.js";
import {
  CONFORMANCE_CHECKS,
  type ConformanceCheckName,
  type ConformanceCheckResult,
  type ConformanceFailure,
  type ConformanceReport,
  type CorruptionObjectResult,
  type CorruptionTrialResult,
  formatConformanceReport,
  type VersionPairResult,
} from "./report.js";
import { withNative } from "./variants.js";

/** Session the conformance checks preserve their objects in. */
export const CONFORMANCE_SESSION = "conformance";

/** What {@link ConformanceOptions.assertRestored} is told besides the two objects. */
export interface RestoredObjectContext<I, S> {
  /** The check asking. */
  readonly check: ConformanceCheckName;
  /** The original's snapshot, taken at the end of brownout (just before freeze), if `snapshot` is given. */
  readonly snapshot: S | undefined;
  /** The kernel the restored object lives in (the old one itself in cancel checks). */
  readonly kernel: LiveUpdateKernel;
  /** That kernel's instance of the driver (the reader's class: a variant or a peer in `version-pairs`). */
  readonly driver: I;
  /** The version the state crossed the kexec in (undefined when nothing crossed: cancel checks). */
  readonly writtenVersion: number | undefined;
}

/** Settings of the `corruption` check. */
export interface CorruptionOptions {
  /** Number of trials (default 48; each is one full update with one corruption). */
  readonly trials?: number;
  /** Run only these trial numbers (to replay a failure). */
  readonly only?: readonly number[];
  /**
   * The driver seals its serialized state (a checksum, a MAC) and rejects a state that does not
   * match: `true` for every version, or the versions that carry the seal. Then restoring a
   * corrupted state to a different value is a failure even when the bytes still decode.
   */
  readonly integrity?: boolean | readonly number[];
}

/**
 * What only the driver's author knows, and the knobs of {@link verifyDriverConformance}.
 *
 * @typeParam I - the driver's instance type.
 * @typeParam T - the preserved object type.
 * @typeParam S - the snapshot type.
 */
export interface ConformanceOptions<I, T, S = undefined> {
  /**
   * Creates one representative object in a booted kernel (do not preserve it: the checks do).
   * Use `driver` — the running build's instance of the driver, which may be a {@link withNative}
   * adapter or a peer class — rather than `lk.driver(YourClass)`. Draw variety from `rng`.
   */
  createObject(lk: LiveUpdateKernel, rng: Prng, driver: I): T;
  /**
   * Throws (any assertion error) when `restored` is not what `original` was when it was handed
   * over. Compare against `ctx.snapshot` for state that lives in memory of the old kernel.
   */
  assertRestored(original: T, restored: T, ctx: RestoredObjectContext<I, S>): void;
  /**
   * Captures what `assertRestored` compares, in the old kernel at the end of brownout (e.g. the
   * object's memory contents). Default: no snapshot.
   */
  snapshot?(object: T, lk: LiveUpdateKernel, driver: I): S;
  /**
   * Changes one preserved object during brownout through a dirty-tracked `@PhaseGuard`
   * operation; the `update` check then verifies the change was tracked and re-serialized at freeze.
   */
  brownout?(object: T, lk: LiveUpdateKernel, driver: I): void;
  /** Objects per scenario (default 2, at least 1). */
  readonly objects?: number;
  /** Generated values per law (default 100). */
  readonly numRuns?: number;
  /** Seed of everything random: laws, boots, `createObject`'s rng, corruptions (default 1). */
  readonly seed?: number;
  /** Checks to run (default: all of {@link CONFORMANCE_CHECKS}). */
  readonly checks?: readonly ConformanceCheckName[];
  /** Checks to skip. */
  readonly skip?: readonly ConformanceCheckName[];
  /** The `corruption` check's settings. */
  readonly corruption?: CorruptionOptions;
  /**
   * Other releases of the same driver (same schema name, other native version or catalog), e.g.
   * the class an older kernel build ships: `version-pairs` updates in both directions between the
   * driver and each peer. `createObject`, `snapshot` and `assertRestored` receive the peer's
   * instance as `driver` then: peers should offer the same API as the driver.
   */
  readonly peers?: readonly DriverClass[];
  /** Other drivers every kernel build needs (the driver's dependencies). */
  readonly withDrivers?: readonly DriverClass[];
  /** RAM of each scenario's machine (default `"512M"`). */
  readonly memory?: number | string;
  /** Parent DI container of every boot (test services). */
  readonly container?: DependencyContainer;
  /** Orchestrator settings of every boot. */
  readonly luo?: LuoOptions;
}

type AnyOptions = ConformanceOptions<unknown, unknown, unknown>;

interface Env {
  readonly Driver: DriverClass;
  readonly meta: DriverMetadata;
  readonly options: AnyOptions;
  readonly seed: number;
  readonly count: number;
  readonly builds: Map<DriverClass, KernelBuild>;
}

interface Scenario {
  readonly harness: LiveUpdateHarness;
  readonly objects: readonly unknown[];
  readonly writer: unknown;
  snapshots: (unknown | undefined)[];
}

class CheckFailed extends Error {}

function errorText(error: unknown): string {
  if (error instanceof LiveUpdateError) return `${error.name} [${error.code}]: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** True when `error` and every `cause` behind it are `LiveUpdateError`s (typed all the way down). */
function typedChain(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; depth < 16 && e !== undefined; depth++) {
    if (!(e instanceof LiveUpdateError)) return false;
    e = e.cause;
  }
  return true;
}

function untypedLink(error: unknown): string {
  let e: unknown = error;
  while (e instanceof LiveUpdateError) e = e.cause;
  return errorText(e);
}

function buildOf(env: Env, cls: DriverClass): KernelBuild {
  let build = env.builds.get(cls);
  if (build === undefined) {
    build = defineKernelBuild({
      version: `conformance-${env.builds.size + 1}:${cls.name}`,
      drivers: [cls, ...(env.options.withDrivers ?? [])],
    });
    env.builds.set(cls, build);
  }
  return build;
}

function start(env: Env, writer: DriverClass, reader: DriverClass, offset: number, poison = true): Scenario {
  const o = env.options;
  const harness = LiveUpdateHarness.boot({
    from: buildOf(env, writer),
    to: buildOf(env, reader),
    memory: o.memory ?? "512M",
    seed: env.seed * 1000 + offset,
    poison,
    ...(o.container !== undefined ? { container: o.container } : {}),
    ...(o.luo !== undefined ? { luo: o.luo } : {}),
  });
  const driver = harness.driver(writer);
  const rng = new Prng(env.seed * 7919 + offset);
  const objects: unknown[] = [];
  for (let i = 0; i < env.count; i++) objects.push(o.createObject(harness.kernel, rng, driver));
  objects.forEach((object, i) => {
    harness.preserve(i + 1, object, { session: CONFORMANCE_SESSION, driver: writer });
  });
  return { harness, objects, writer: driver, snapshots: [] };
}

function takeSnapshots(env: Env, s: Scenario): void {
  const snap = env.options.snapshot;
  s.snapshots = s.objects.map((object) => snap?.(object, s.harness.kernel, s.writer));
}

/** Runs `assertRestored`; returns the failure text or undefined. */
function compare(
  env: Env,
  s: Scenario,
  index: number,
  restored: unknown,
  ctx: {
    check: ConformanceCheckName;
    kernel: LiveUpdateKernel;
    reader: DriverClass;
    writtenVersion: number | undefined;
  },
): string | undefined {
  try {
    env.options.assertRestored(s.objects[index], restored, {
      check: ctx.check,
      snapshot: s.snapshots[index],
      kernel: ctx.kernel,
      driver: ctx.kernel.driver(ctx.reader),
      writtenVersion: ctx.writtenVersion,
    });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message.split("\n")[0]! : String(error);
  }
}

function writtenVersionOf(result: UpdateResult, name: string): number | undefined {
  return result.prepare.negotiation.drivers.find((d) => d.driver === name)?.version;
}

// ---- checks ---------------------------------------------------------------------------------------

interface CheckOutput {
  summary: string;
  details: string[];
  failures: ConformanceFailure[];
}

function lawFailures(report: LawReport): ConformanceFailure[] {
  return report.failures.map((f) => ({
    message: `${f.subject}: ${f.law} fails for ${f.shown}: ${f.reason} (seed ${f.seed}, path "${f.path}")`,
  }));
}

function schemasOf(env: Env): VersionedSchema[] {
  const flbs = env.meta
    .flbs()
    .map((flb) => getFlbMetadata(flb)?.schema)
    .filter((s) => s !== undefined);
  return [env.meta.schema, ...flbs];
}

function checkRoundTrips(env: Env): CheckOutput {
  const out: CheckOutput = { summary: "", details: [], failures: [] };
  let versions = 0;
  for (const schema of schemasOf(env)) {
    for (const version of schema.versions) {
      const report = checkRoundTrip(version, { numRuns: env.options.numRuns ?? 100, seed: env.seed });
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

function checkMigrators(env: Env): CheckOutput {
  const out: CheckOutput = { summary: "", details: [], failures: [] };
  let laws = 0;
  for (const schema of schemasOf(env)) {
    if (schema.migrators.length === 0) continue;
    const report = checkMigratorLaws(schema, { numRuns: env.options.numRuns ?? 100, seed: env.seed });
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

/** A plain update A → B with the driver's own catalog on both sides. */
function checkUpdate(env: Env, poison: boolean): CheckOutput {
  const name = env.meta.name;
  const check: ConformanceCheckName = poison ? "poison" : "update";
  const out: CheckOutput = { summary: "", details: [], failures: [] };
  const s = start(env, env.Driver, env.Driver, poison ? 2 : 1, poison);
  const fail = (message: string, error?: unknown) =>
    out.failures.push({ message, ...(error !== undefined ? { error } : {}) });
  let result: UpdateResult;
  try {
    result = s.harness.update({
      brownout: (lk) => {
        if (!poison && env.options.brownout !== undefined) env.options.brownout(s.objects[0], lk, s.writer);
        takeSnapshots(env, s);
      },
    });
  } catch (error) {
    fail(`the update failed: ${errorText(error)}`, error);
    out.summary = "update failed";
    return out;
  }
  const lk = result.kernel;
  const version = writtenVersionOf(result, name);
  out.details.push(
    `negotiated ${name}-v${version}; handover ${result.summary.handoverBytes} bytes; ` +
      `blackout ${((result.summary.blackoutNs ?? 0) / 1000).toFixed(0)} µs; poisoned ${result.handoff.poisonedBytes} bytes`,
  );
  if (poison && result.handoff.poisonedBytes === 0) fail("the reboot poisoned nothing (is poisoning on?)");
  if (!poison && env.options.brownout !== undefined) {
    const dirty = result.events.some((e) => e.kind === "dirty" && e.driver === name && e.token === 1n);
    if (!dirty) {
      fail(
        'the brownout change of token 1 was not tracked as dirty: is the operation a @PhaseGuard({ brownout: "dirty" })?',
      );
    } else out.details.push("brownout change of token 1 tracked as dirty and re-serialized at freeze");
  }
  if (lk.luo.phase !== "UPDATED") fail(`the new kernel is in phase ${lk.luo.phase}, expected UPDATED`);
  const session = result.session(CONFORMANCE_SESSION);
  s.objects.forEach((_, i) => {
    let restored: unknown;
    try {
      restored = session.retrieve(i + 1);
    } catch (error) {
      fail(`token ${i + 1} was not restored: ${errorText(error)}`, error);
      return;
    }
    const mismatch = compare(env, s, i, restored, {
      check,
      kernel: lk,
      reader: env.Driver,
      writtenVersion: version,
    });
    if (mismatch !== undefined) {
      fail(
        poison
          ? `token ${i + 1} is not restored intact on a kernel that poisoned unpreserved memory: ${mismatch}`
          : `token ${i + 1} is not restored intact: ${mismatch}`,
      );
    }
  });
  const summary = result.summary;
  const objects = summary.perObject.filter((o) => o.driver === name).length;
  if (objects !== env.count)
    fail(`the timeline lists ${objects} object(s) of ${name}, expected ${env.count}`);
  if (summary.blackoutNs === undefined) fail("the timeline has no blackout for the update");
  for (const e of summary.errors)
    fail(`the timeline recorded an error: ${e.where} ${e.driver ?? ""}: ${e.error.code} ${e.error.message}`);
  for (const e of result.events) {
    if (e.kind === "warning" && e.driver === name) fail(`warning for token ${e.token}: ${e.message}`);
  }
  if (summary.resets.length > 0)
    fail(`objects were reset: ${summary.resets.map((r) => r.reason).join("; ")}`);
  try {
    session.finish();
  } catch (error) {
    fail(`finishing the session failed: ${errorText(error)}`, error);
  }
  const finishErrors = lk.timeline
    .eventsOf(result.update)
    .filter((e) => e.kind === "error" && e.driver === name);
  for (const e of finishErrors)
    if (e.kind === "error") fail(`${e.where} of token ${e.token} failed: ${e.error.message}`);
  if (lk.luo.phase !== "NORMAL")
    fail(`after finish the new kernel is in phase ${lk.luo.phase}, expected NORMAL`);
  out.summary = poison
    ? `${env.count} object(s) restored intact after a kexec that poisoned ${result.handoff.poisonedBytes} bytes`
    : `${env.count} object(s) updated, restored, finished${env.options.brownout !== undefined ? " (one changed in brownout)" : ""}`;
  return out;
}

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

function checkVersionPairs(env: Env, pairs: VersionPairResult[]): CheckOutput {
  const out: CheckOutput = { summary: "", details: [], failures: [] };
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

function checkCancel(env: Env): CheckOutput {
  const out: CheckOutput = { summary: "", details: [], failures: [] };
  const s = start(env, env.Driver, env.Driver, 3);
  const lk = s.harness.kernel;
  // KHO keeps its root FDT page once allocated (and rewrites it at every finalize): allocate it up
  // front and leave it out, so only real changes show.
  const root = lk.kho.finalize().fdtPhys;
  lk.kho.abort();
  for (const phase of ["PREPARED", "FROZEN"] as const) {
    takeSnapshots(env, s);
    const memory = MemorySnapshot.take(lk, { exclude: [{ base: root, size: PAGE_SIZE }] });
    const fail = (message: string, error?: unknown) =>
      out.failures.push({
        message: `cancel in ${phase}: ${message}`,
        ...(error !== undefined ? { error } : {}),
      });
    try {
      lk.kernel.kexecLoad(buildOf(env, env.Driver));
      lk.luo.prepare();
      if (phase === "FROZEN") lk.luo.freeze();
    } catch (error) {
      fail(`the update could not reach ${phase}: ${errorText(error)}`, error);
      continue;
    }
    lk.luo.cancel(`conformance: cancel in ${phase}`);
    const update = lk.timeline.update;
    if (lk.luo.phase !== "NORMAL") fail(`phase is ${lk.luo.phase} after cancel, expected NORMAL`);
    for (const e of lk.timeline.summary(update).errors) {
      fail(
        `${e.where} of ${e.driver ?? "?"} token ${e.token ?? "-"} failed (cancel must not fail): ${e.error.code} ${e.error.message}`,
      );
    }
    for (const line of memory.compare(lk)) fail(line);
    s.objects.forEach((o, i) => {
      const m = compare(env, s, i, o, {
        check: "cancel",
        kernel: lk,
        reader: env.Driver,
        writtenVersion: undefined,
      });
      if (m !== undefined) fail(`token ${i + 1} is not intact: ${m}`);
    });
    out.details.push(
      `cancel in ${phase}: phase NORMAL, memory ${memory.compare(lk).length === 0 ? "unchanged" : "CHANGED"}`,
    );
  }
  // The objects still update after two cancels.
  try {
    takeSnapshots(env, s);
    const result = s.harness.update();
    const version = writtenVersionOf(result, env.meta.name);
    s.objects.forEach((_, i) => {
      const m = compare(env, s, i, result.restored(i + 1, CONFORMANCE_SESSION), {
        check: "cancel",
        kernel: result.kernel,
        reader: env.Driver,
        writtenVersion: version,
      });
      if (m !== undefined)
        out.failures.push({ message: `after the cancels, token ${i + 1} does not update intact: ${m}` });
    });
    out.details.push("after both cancels the same objects update and restore intact");
  } catch (error) {
    out.failures.push({ message: `after the cancels, the update fails: ${errorText(error)}`, error });
  }
  out.summary = "cancel in PREPARED and FROZEN leaves phase NORMAL, objects intact, memory unchanged";
  return out;
}

function checkVirtualAddresses(env: Env): CheckOutput {
  const out: CheckOutput = { summary: "", details: [], failures: [] };
  const s = start(env, env.Driver, env.Driver, 4);
  let scanned = 0;
  const scan = (
    image: LuoHandoverImage,
    machine: LiveUpdateKernel["machine"],
    previous: LiveUpdateKernel,
  ) => {
    const memory = machine.memory;
    const regions: {
      label: string;
      base: number;
      bytes: Uint8Array;
      fieldAt?: (offset: number) => string | undefined;
    }[] = [
      {
        label: "luo subtree blob",
        base: image.subtree.phys,
        bytes: memory.read(image.subtree.phys, image.subtree.size),
      },
    ];
    for (const f of image.subtree.folios) {
      regions.push({ label: "LUO handover", base: f.phys, bytes: memory.read(f.phys, folioBytes(f.order)) });
    }
    const records = [
      ...image.sessions.flatMap((sess) =>
        sess.files.map((f) => ({ label: `session "${f.session}" token ${f.token}`, r: f })),
      ),
      ...image.flbs.map((f) => ({ label: `FLB ${f.compatible}`, r: f })),
    ];
    for (const { label, r } of records) {
      const schema = r.compatible.startsWith(`${env.meta.name}-v`) ? env.meta.schema : undefined;
      const version = schema?.has(schema.parseCompatible(r.compatible))
        ? schema.version(schema.parseCompatible(r.compatible))
        : undefined;
      for (const f of r.folios.filter((x) => x.data)) {
        regions.push({
          label: `${label} serialized state (${r.compatible})`,
          base: f.phys,
          bytes: memory.read(f.phys, folioBytes(f.order)),
          fieldAt: (offset) => {
            const at = f.phys + offset - r.data;
            if (version === undefined || at < 0 || at >= version.size) return undefined;
            return version.layout.structs[0]!.fields.find((x) => at >= x.offset && at < x.offset + x.size)
              ?.name;
          },
        });
      }
    }
    for (const region of regions) {
      scanned += region.bytes.length;
      for (const offset of VirtualLayout.findVirtualAddresses(region.bytes)) {
        const value = new DataView(region.bytes.buffer, region.bytes.byteOffset + offset, 8).getBigUint64(
          0,
          true,
        );
        const field = region.fieldAt?.(offset);
        const va = previous.kernel.layout.virtToPhys(value);
        out.failures.push({
          message:
            `${region.label} at ${hex(region.base + offset)}${field !== undefined ? ` (field ${field})` : ""} holds ` +
            `${hex(value)}, a kernel virtual address${va !== undefined ? ` (the old kernel's __va(${hex(va)}))` : ""}: ` +
            "handover data must hold physical addresses only",
        });
      }
    }
  };
  let previousKernel: LiveUpdateKernel | undefined;
  try {
    s.harness.update({
      frozen: (lk) => {
        previousKernel = lk;
      },
      beforeBoot: (image, machine) => scan(image, machine, previousKernel!),
    });
  } catch (error) {
    out.failures.push({ message: `the update failed: ${errorText(error)}`, error });
  }
  out.details.push(`scanned ${scanned} bytes of handover data (LUO subtree, LUO records, serialized states)`);
  out.summary = `no kernel virtual address in ${scanned} bytes of handover data`;
  return out;
}

function integrityFor(env: Env, version: number): boolean {
  const integrity = env.options.corruption?.integrity ?? false;
  return integrity === true || (Array.isArray(integrity) && integrity.includes(version));
}

function checkCorruption(env: Env, trials: CorruptionTrialResult[]): CheckOutput {
  const out: CheckOutput = { summary: "", details: [], failures: [] };
  const count = env.options.corruption?.trials ?? 48;
  const only = env.options.corruption?.only;
  const name = env.meta.name;
  for (let trial = 0; trial < count; trial++) {
    if (only !== undefined && !only.includes(trial)) continue;
    const kind = CORRUPTION_KINDS[trial % CORRUPTION_KINDS.length]!;
    const rng = new Prng(env.seed * 104_729 + trial);
    const s = start(env, env.Driver, env.Driver, 100 + trial);
    const target = 1 + (trial % env.count);
    let preserved = new Map<number, number>();
    let expectations = new Map<string, Expectation>();
    let description = "";
    let written = 0;
    let bootError: unknown;
    let result: UpdateResult | undefined;
    let setupError: unknown;
    try {
      result = s.harness.update({
        brownout: () => takeSnapshots(env, s),
        frozen: (lk) => {
          preserved = new Map([...lk.kho.outgoing.preservedFolios()].map((f) => [f.phys, f.order]));
        },
        beforeBoot: (image, machine) => {
          const oracle = new HandoverOracle(
            machine.memory,
            image.bootData,
            preserved,
            buildOf(env, env.Driver),
          );
          let baseline: ReturnType<HandoverOracle["baseline"]>;
          try {
            baseline = oracle.baseline();
          } catch (error) {
            throw new CheckFailed(`the testkit cannot read the uncorrupted handover: ${errorText(error)}`);
          }
          const file = image.file(CONFORMANCE_SESSION, target)!;
          written = env.meta.schema.parseCompatible(file.compatible);
          const corruption = planCorruption(
            kind,
            {
              machine,
              image,
              file,
              version: env.meta.schema.version(written),
              otherReadable: env.meta.reads.filter((v) => v !== written),
              preserved,
            },
            rng,
          );
          description = corruption.description;
          corruption.apply(machine.memory);
          expectations = oracle.predict(baseline);
        },
      });
    } catch (error) {
      if (error instanceof CheckFailed) setupError = error;
      else if (description === "") setupError = error;
      else bootError = error;
    }
    if (setupError !== undefined) {
      out.failures.push({ message: `trial ${trial}: ${errorText(setupError)}`, error: setupError });
      continue;
    }
    const objects: CorruptionObjectResult[] = [];
    let session: ReturnType<UpdateResult["session"]> | undefined;
    let sessionError: unknown;
    if (result !== undefined) {
      try {
        session = result.session(CONFORMANCE_SESSION);
      } catch (error) {
        sessionError = error;
      }
      for (const reset of result.kernel.luo.resets) {
        if (!/^[A-Z][A-Z0-9_]*$/.test(reset.code)) {
          bootError ??= new Error(
            `reset of ${reset.driver} token ${reset.token} after an untyped failure ${reset.code}: ${reset.reason}`,
          );
        }
      }
    }
    for (let i = 0; i < env.count; i++) {
      const token = BigInt(i + 1);
      const expectation = expectations.get(objectKey(CONFORMANCE_SESSION, token)) ?? {
        kind: "reject",
        why: "unknown",
      };
      let actual: CorruptionObjectResult["actual"];
      let detail: string;
      const failure = bootError ?? sessionError;
      if (failure !== undefined) {
        actual = typedChain(failure) ? "rejected" : "crash";
        detail = actual === "crash" ? `untyped failure: ${untypedLink(failure)}` : errorText(failure);
      } else {
        let restored: unknown;
        try {
          restored = session!.retrieve(token);
          const mismatch = compare(env, s, i, restored, {
            check: "corruption",
            kernel: result!.kernel,
            reader: env.Driver,
            writtenVersion: written,
          });
          actual = mismatch === undefined ? "intact" : "changed";
          detail = mismatch ?? "restored intact";
        } catch (error) {
          actual = typedChain(error) ? "rejected" : "crash";
          detail = actual === "crash" ? `untyped failure: ${untypedLink(error)}` : errorText(error);
        }
      }
      const sealed = expectation.kind === "value" && expectation.sealed && integrityFor(env, written);
      const ok =
        actual !== "crash" &&
        (expectation.kind === "reject"
          ? actual === "rejected"
          : expectation.kind === "intact"
            ? actual === "intact"
            : expectation.kind === "intact-or-reject"
              ? actual !== "changed"
              : !(sealed && actual === "changed"));
      objects.push({
        token,
        expected: expectation.kind,
        actual,
        ok,
        detail: `${expectation.why} → ${detail}`,
      });
      if (!ok) {
        const why =
          actual === "crash"
            ? "the restore failed with an untyped exception"
            : expectation.kind === "reject"
              ? "the corruption was not detected"
              : expectation.kind === "value"
                ? "a corrupted state was restored silently although the driver declares integrity"
                : actual === "rejected"
                  ? "an object whose handover data is intact was rejected"
                  : "an object whose handover data is intact was restored differently";
        out.failures.push({
          message: `trial ${trial} (${kind}: ${description}): token ${token}: ${why} — expected ${expectation.kind} (${expectation.why}), got ${actual}: ${detail}`,
        });
      }
    }
    trials.push({ trial, kind, description, objects, ok: objects.every((o) => o.ok) });
  }
  const counts = new Map<string, number>();
  for (const t of trials) for (const o of t.objects) counts.set(o.actual, (counts.get(o.actual) ?? 0) + 1);
  const byKind = CORRUPTION_KINDS.map((k) => `${k} ${trials.filter((t) => t.kind === k).length}`).join(", ");
  out.details.push(`trials by kind: ${byKind}`);
  out.details.push(
    `object outcomes: ${[...counts].map(([k, v]) => `${k} ${v}`).join(", ")} (driver ${name}, integrity ${JSON.stringify(env.options.corruption?.integrity ?? false)})`,
  );
  for (const t of trials) {
    out.details.push(
      `trial ${t.trial} ${t.kind}: ${t.description}: ${t.objects.map((o) => `#${o.token} ${o.expected}→${o.actual}`).join(", ")}`,
    );
  }
  out.summary = `${trials.length} corrupted handover(s): typed errors only, no silent wrong restore`;
  return out;
}

// ---- entry points -----------------------------------------------------------------------------------

/**
 * Runs the conformance suite for one driver class and returns a structured report (it throws only
 * for unusable arguments). Checks (all by default, in this order):
 *
 * - `round-trip` — `decode(encode(x)) = x` for every version of the driver's schema (and of its
 *   FLBs' schemas) over generated values;
 * - `migrator-laws` — every migrator law of those schemas (`down(up(x)) = x`, …);
 * - `update` — objects created by `createObject`, preserved, one changed in brownout (`brownout`),
 *   updated to a build with the same driver, restored intact (`assertRestored`), the change
 *   tracked as dirty, the timeline complete, sessions finished;
 * - `poison` — the same on a kexec that poisons every byte that was not preserved, so a forgotten
 *   preservation shows up;
 * - `version-pairs` — for every version *v* other than the native one, an update from the driver
 *   to a build whose driver speaks *v* natively ({@link withNative}: the driver must write *v*)
 *   and one from such a build to the driver (it must restore *v*); and updates in both directions
 *   with each peer. Typed refusals (no common version, a lossy path, a down-migration refusing a
 *   value) are accepted when the old kernel kept every object; a value refusal is retried with
 *   other objects (up to 4 sets) so the crossing itself gets exercised;
 * - `cancel` — cancel in PREPARED and in FROZEN: phase NORMAL, no cancel hook error, objects intact,
 *   memory unchanged ({@link MemorySnapshot}); then the same objects still update;
 * - `virtual-addresses` — no 8-byte word of the handover data (LUO subtree and records, every
 *   serialized state) looks like a kernel virtual address;
 * - `corruption` — trials that each update once and corrupt the handover between the reboot and
 *   the next boot (bit flips, truncations, bad pointers, wrong compatible strings — see
 *   {@link planCorruption}).
 *
 * **What "detected" means.** A corruption is detected when the new kernel reports it with a typed
 * error: its boot throws a `LiveUpdateError` (e.g. `LuoRestoreAbortedError`,
 * `LuoHandoverCorruptError`) whose whole `cause` chain is `LiveUpdateError`s, or the object is
 * dropped by the `reset` policy with a typed code and retrieving it throws `LuoObjectResetError`
 * (or `ENOENT` when its record is gone). An untyped exception anywhere (a `TypeError` in a restore
 * hook, even wrapped) is a crash and always fails. Before each boot the testkit reads the corrupted
 * handover itself, with the same rules the new kernel applies, and predicts per object:
 * must be rejected (something it needs is invalid), must be restored intact (nothing it reads
 * changed), either, or "value" — the bytes still decode, to a different well-formed value that no
 * format without a checksum can tell from a legitimate state. A "value" may be restored (the
 * driver's own checks may still reject it) unless the driver declares `corruption.integrity`; then
 * restoring a changed state of the driver's own sealed bytes fails the check. Restoring an object
 * whose handover data is intact to a different value, or rejecting it, always fails.
 *
 * A run with the defaults takes a few seconds for a small driver (each scenario boots a fresh
 * machine; 48 corruption trials are 48 updates).
 *
 * @param Driver - the `@LiveUpdateDriver` class.
 * @param options - object factory, comparison, snapshot, brownout change, knobs.
 * @returns the report; `report.ok` is false when a check failed.
 * @example
 * ```ts
 * const report = verifyDriverConformance(CounterRingDriver, {
 *   createObject: (lk, rng, driver) => driver.create({ capacity: rng.int(1, 64) }),
 *   snapshot: (ring, lk, driver) => driver.read(ring),
 *   assertRestored: (_original, restored, ctx) => expect(ctx.driver.read(restored)).toEqual(ctx.snapshot),
 * });
 * console.log(formatConformanceReport(report));
 * ```
 */
export function verifyDriverConformance<D extends DriverClass, T, S = undefined>(
  Driver: D,
  options: ConformanceOptions<InstanceType<D>, T, S>,
): ConformanceReport {
  const started = performance.now();
  const meta = getDriverMetadata(Driver);
  if (meta === undefined) {
    throw new DriverConformanceError(`${Driver.name} is not a @LiveUpdateDriver class`, {
      driver: Driver.name,
      seed: options.seed ?? 1,
    });
  }
  const env: Env = {
    Driver,
    meta,
    options: options as unknown as AnyOptions,
    seed: options.seed ?? 1,
    count: Math.max(1, Math.floor(options.objects ?? 2)),
    builds: new Map(),
  };
  const wanted = new Set(options.checks ?? CONFORMANCE_CHECKS);
  for (const skip of options.skip ?? []) wanted.delete(skip);
  const pairs: VersionPairResult[] = [];
  const trials: CorruptionTrialResult[] = [];
  const runners: Record<ConformanceCheckName, () => CheckOutput> = {
    "round-trip": () => checkRoundTrips(env),
    "migrator-laws": () => checkMigrators(env),
    update: () => checkUpdate(env, false),
    poison: () => checkUpdate(env, true),
    "version-pairs": () => checkVersionPairs(env, pairs),
    cancel: () => checkCancel(env),
    "virtual-addresses": () => checkVirtualAddresses(env),
    corruption: () => checkCorruption(env, trials),
  };
  const checks: ConformanceCheckResult[] = [];
  for (const name of CONFORMANCE_CHECKS) {
    if (!wanted.has(name)) {
      checks.push({ name, status: "skipped", durationMs: 0, summary: "skipped", details: [], failures: [] });
      continue;
    }
    const t0 = performance.now();
    let output: CheckOutput;
    try {
      output = runners[name]();
    } catch (error) {
      output = {
        summary: "the check itself failed",
        details: [],
        failures: [{ message: `unexpected ${errorText(error)}`, error }],
      };
    }
    checks.push({
      name,
      status: output.failures.length === 0 ? "passed" : "failed",
      durationMs: performance.now() - t0,
      summary: output.summary,
      details: output.details,
      failures: output.failures,
    });
  }
  // The poison check explains itself when the plain update passes.
  const update = checks.find((c) => c.name === "update");
  const poison = checks.find((c) => c.name === "poison");
  if (update?.status === "passed" && poison?.status === "failed") {
    (poison.failures as ConformanceFailure[]).unshift({
      message:
        "the same update passes without poisoning: the restore depends on memory that was not preserved " +
        "(preserve it in the prepare or freeze hook with ctx.preservePages/preserveFolio)",
    });
  }
  return {
    driver: meta.name,
    driverClass: Driver.name,
    ok: checks.every((c) => c.status !== "failed"),
    seed: env.seed,
    durationMs: performance.now() - started,
    checks,
    pairs,
    trials,
  };
}

/**
 * {@link verifyDriverConformance} for test suites: returns the report when every check passed,
 * and otherwise throws a {@link DriverConformanceError} whose message lists every failed check
 * with its first failures (the whole report is on `error.report`).
 *
 * @param Driver - the `@LiveUpdateDriver` class.
 * @param options - as for {@link verifyDriverConformance}.
 * @throws {@link DriverConformanceError} when a check failed.
 * @example
 * ```ts
 * it("conforms", () => {
 *   assertDriverConformance(CounterRingDriver, { createObject, snapshot, assertRestored });
 * });
 * ```
 */
export function assertDriverConformance<D extends DriverClass, T, S = undefined>(
  Driver: D,
  options: ConformanceOptions<InstanceType<D>, T, S>,
): ConformanceReport {
  const report = verifyDriverConformance(Driver, options);
  if (!report.ok) throw new DriverConformanceError(formatConformanceReport(report), report);
  return report;
}
