/**
 * The `update` and `poison` checks: a plain update with the driver's own catalog on both sides
 * (poisoning every byte nobody preserved for `poison`), objects restored intact.
 */

import type { UpdateResult } from "../harness.js";
import { hardwareOf, objectGraph, sameFields, scramble, sharedObject } from "../old-kernel.js";
import type { ConformanceCheckName } from "../report.js";
import {
  type CheckOutput,
  CONFORMANCE_SESSION,
  compare,
  type Env,
  errorText,
  newOutput,
  start,
  takeSnapshots,
  writtenVersionOf,
} from "../scenario.js";

/** Runs the `update` check, or with `poison` the `poison` check. */
export function checkUpdate(env: Env, poison: boolean): CheckOutput {
  const name = env.meta.name;
  const check: ConformanceCheckName = poison ? "poison" : "update";
  const out = newOutput();
  const s = start(env, env.Driver, env.Driver, poison ? 2 : 1, poison);
  const fail = (message: string, error?: unknown) =>
    out.failures.push({ message, ...(error !== undefined ? { error } : {}) });
  const old = s.harness.kernel;
  const boundary = hardwareOf(s.harness.machine, [
    old,
    old.kernel,
    old.luo,
    old.kho,
    s.writer,
    env.options.container,
  ]);
  let oldObjects = new Map<object, string>();
  let unscramble = () => {};
  let result: UpdateResult;
  try {
    result = s.harness.update({
      brownout: (lk) => {
        if (!poison && env.options.brownout !== undefined) env.options.brownout(s.objects[0], lk, s.writer);
        takeSnapshots(env, s);
      },
      // The old kernel is gone: its objects hold garbage while the new kernel restores.
      beforeBoot: () => {
        oldObjects = objectGraph(s.objects, boundary);
        unscramble = scramble(oldObjects);
      },
    });
  } catch (error) {
    fail(`the update failed: ${errorText(error)}`, error);
    out.summary = "update failed";
    return out;
  } finally {
    unscramble();
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
    const shared = sharedObject(restored, oldObjects, boundary);
    if (shared !== undefined) {
      fail(
        `token ${i + 1}: ${shared.restoredPath} is the old kernel's object ${shared.oldPath}: state that never crossed ` +
          "physical memory (kept in module state?) — nothing of the old kernel's software state survives kexec; " +
          "build the restored object from the decoded state",
      );
      return;
    }
    const mismatch = compare(env, s, i, restored, {
      check,
      kernel: lk,
      reader: env.Driver,
      writtenVersion: version,
    });
    if (mismatch !== undefined) {
      // A copy of the old object made while it was scrambled carries the scrambled values.
      const undo = scramble(oldObjects);
      const copied = sameFields(restored, s.objects[i]);
      undo();
      fail(
        copied
          ? `token ${i + 1} is a copy of the old kernel's object, made while the testkit had scrambled it (the old ` +
              "kernel is gone at restore time): state that never crossed physical memory (kept in module state?) — " +
              `build the restored object from the decoded state: ${mismatch}`
          : poison
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
