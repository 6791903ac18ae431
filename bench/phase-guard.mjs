/**
 * Phase-guard benchmark (issue 15 §5): the cost of a `@PhaseGuard({ brownout: "dirty" })` operation
 * during brownout (PREPARED: the call is dirty-tracked) relative to the same calls in NORMAL (the
 * guard only checks the phase), in the same process and run. Before the fix every brownout call
 * appended one `dirty` timeline event; now dirtiness is recorded once per object per brownout.
 *
 * Uses the built package (`npx tsc -b` first). Run: `node --expose-gc bench/phase-guard.mjs`
 * Options: `--calls N` (guarded calls per measurement, default 100000), `--objects K` (preserved
 * objects the calls cycle over, default 1), `--reps N` (default 15; times are medians),
 * `--json` (only the figures, as JSON on standard output).
 *
 * Method: per rep one fresh machine and kernel, K objects preserved in one session; N calls timed
 * in NORMAL, then `kexecLoad` + `prepare`, N calls timed in PREPARED, then `cancel`. Both
 * measurements run in every rep, so drift affects both alike; three warm-up reps are dropped.
 * Also reported: how many `dirty` events the brownout calls appended to the timeline.
 */
import { parseArgs } from "node:util";
import {
  bootLiveUpdateKernel,
  defineKernelBuild,
  LiveUpdateDriver,
  Machine,
  PhaseGuard,
  struct,
  u32,
  versionedSchema,
} from "../packages/core/dist/index.js";
import { benchOutput } from "./lib/output.mjs";
import { collectGarbage, loadAverage, median, ms } from "./lib/stats.mjs";

const { values: options } = parseArgs({
  options: {
    calls: { type: "string", default: "100000" },
    objects: { type: "string", default: "1" },
    reps: { type: "string", default: "15" },
    json: { type: "boolean", default: false },
  },
});
const out = benchOutput(options);
const CALLS = Number(options.calls);
const OBJECTS = Number(options.objects);
const REPS = Number(options.reps);
const WARMUP = 3;

// ---- a trivial driver, declared without decorator syntax (plain ESM) -----------------------------

const TallySchema = versionedSchema("bench-tally", struct("bench_tally_v1", { value: u32() }));

class Tally {
  value = 0;
}

class TallyDriver {
  canPreserve(object) {
    return object instanceof Tally;
  }
  onSerialize(tally) {
    return { value: tally.value };
  }
  onRestore(state) {
    const tally = new Tally();
    tally.value = state.value;
    return tally;
  }
  bump(tally) {
    tally.value = (tally.value + 1) >>> 0;
  }
}
const descriptor = Object.getOwnPropertyDescriptor(TallyDriver.prototype, "bump");
PhaseGuard({ brownout: "dirty" })(TallyDriver.prototype, "bump", descriptor);
Object.defineProperty(TallyDriver.prototype, "bump", descriptor);
LiveUpdateDriver({ schema: TallySchema })(TallyDriver);
const build = defineKernelBuild({ version: "bench-guard", drivers: [TallyDriver] });

// ---- one rep ---------------------------------------------------------------------------------------

function calls(driver, tallies) {
  const start = performance.now();
  for (let i = 0; i < CALLS; i++) driver.bump(tallies[i % tallies.length]);
  return performance.now() - start;
}

function rep() {
  const k = bootLiveUpdateKernel(new Machine({ memory: "256M" }), { build });
  const driver = k.driver(TallyDriver);
  const tallies = Array.from({ length: OBJECTS }, () => new Tally());
  const session = k.luo.createSession("bench");
  for (const [i, t] of tallies.entries()) session.preserve(BigInt(i + 1), t);
  collectGarbage();
  const normal = calls(driver, tallies);
  k.kernel.kexecLoad(build);
  k.luo.prepare();
  const before = k.timeline.events.length;
  collectGarbage();
  const brownout = calls(driver, tallies);
  const dirtyEvents = k.timeline.events.slice(before).filter((e) => e.kind === "dirty").length;
  k.luo.cancel();
  return { normal, brownout, dirtyEvents };
}

out.environment();
out.log(`load average at start: ${loadAverage()}`);
const results = [];
const progress = out.progress(WARMUP + REPS);
for (let i = 0; i < WARMUP + REPS; i++) {
  progress.tick(i < WARMUP ? `warm-up ${i + 1}` : `rep ${i - WARMUP + 1}`);
  const r = rep();
  if (i >= WARMUP) results.push(r);
}
progress.stop();
const normal = median(results.map((r) => r.normal));
const brownout = median(results.map((r) => r.brownout));
const ratio = brownout / normal;
const dirtyEvents = results[0].dirtyEvents;
out.log(`${CALLS} guarded calls over ${OBJECTS} preserved object(s), median of ${REPS} reps:`);
out.log(`| phase    | time | ns/call | ratio |`);
out.log(`| -------- | ---- | ------- | ----- |`);
out.log(`| NORMAL   | ${ms(normal)} | ${((normal * 1e6) / CALLS).toFixed(0)} | 1.00× |`);
out.log(`| PREPARED | ${ms(brownout)} | ${((brownout * 1e6) / CALLS).toFixed(0)} | ${ratio.toFixed(2)}× |`);
out.log(`dirty timeline events appended during brownout: ${dirtyEvents}`);
out.figures({
  calls: CALLS,
  objects: OBJECTS,
  reps: REPS,
  normalMs: normal,
  brownoutMs: brownout,
  ratio,
  dirtyEvents,
});
