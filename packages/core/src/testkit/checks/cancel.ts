/** The `cancel` check: cancel in PREPARED and in FROZEN leaves the old kernel exactly as it was. */
import { PAGE_SIZE } from "../../hw/units.js";
import { MemorySnapshot } from "../memory-snapshot.js";
import {
  buildOf,
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

/** Runs the `cancel` check. */
export function checkCancel(env: Env): CheckOutput {
  const out = newOutput();
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
