/**
 * The conformance suite's entry points: runs the checks of `checks/` in order and composes their
 * results into one report. What each check does is in its own module.
 */
import { getDriverMetadata } from "../luo/handlers/metadata.js";
import type { DriverClass } from "../luo/handlers/types.js";
import { checkCancel } from "./checks/cancel.js";
import { checkCorruption } from "./checks/corruption.js";
import { checkMigrators } from "./checks/migrator-laws.js";
import { checkRoundTrips } from "./checks/round-trip.js";
import { checkUpdate } from "./checks/update.js";
import { checkVersionPairs } from "./checks/version-pairs.js";
import { checkVirtualAddresses } from "./checks/virtual-addresses.js";
import { DriverConformanceError } from "./errors.js";
import type { ConformanceOptions } from "./options.js";
import {
  CONFORMANCE_CHECKS,
  type ConformanceCheckName,
  type ConformanceCheckResult,
  type ConformanceFailure,
  type ConformanceReport,
  type CorruptionTrialResult,
  formatConformanceReport,
  type VersionPairResult,
} from "./report.js";
import { type AnyOptions, type CheckOutput, type Env, errorText } from "./scenario.js";

// ---- entry points -----------------------------------------------------------------------------------

/**
 * Runs the conformance suite for one driver class and returns a structured report (it throws only
 * for unusable arguments). Checks (all by default, in this order):
 *
 * - `round-trip` — `decode(encode(x)) = x` for every version of the driver's schema (and of its
 *   FLBs' schemas) over generated values;
 * - `migrator-laws` — every migrator law of those schemas (`down(up(x)) = x`, …), over values from
 *   the declaration, `up` of older values with the added fields varied, and `generators`; a law
 *   whose precondition held for fewer than `minExercised` of the values fails as vacuous;
 * - `update` — objects created by `createObject`, preserved, one changed in brownout (`brownout`),
 *   updated to a build with the same driver, restored intact (`assertRestored`), the change
 *   tracked as dirty, the timeline complete, sessions finished; the old kernel's objects are
 *   scrambled between reboot and boot, and a restored object that is (or copies) one fails;
 * - `poison` — the same on a kexec that poisons every byte that was not preserved, so a forgotten
 *   preservation shows up;
 * - `version-pairs` — for every version *v* other than the native one, an update from the driver
 *   to a build whose driver speaks *v* natively ({@link withNative}: the driver must write *v*)
 *   and one from such a build to the driver (it must restore *v*); and updates in both directions
 *   with each peer. Each pair crosses a population of objects (3 machines × 8, every other one
 *   changed in brownout): each must be refused with a typed error before the kexec — the object is
 *   then unpreserved and the update retried without it — or restored equal; a refused negotiation
 *   is accepted when the old kernel kept every object. Counts are reported, mismatches name fields;
 * - `cancel` — cancel in PREPARED and in FROZEN: phase NORMAL, no cancel hook error, objects intact,
 *   memory unchanged ({@link MemorySnapshot}); then the same objects still update;
 * - `virtual-addresses` — no 8-byte word of the handover data (LUO subtree and records, every
 *   serialized state) looks like a kernel virtual address (a hit names the field);
 * - `corruption` — trials that each update once and corrupt the handover between the reboot and
 *   the next boot (bit flips, also in pages an object preserved in place, truncations, bad
 *   pointers, wrong compatible strings — see {@link planCorruption}).
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
