/**
 * LUO orchestrator benchmark (issue 4 §5): orchestrator overhead with 1,000 objects of a trivial
 * driver. Blackout when everything is serialized at freeze (strict, `serializeAt: "freeze"`)
 * versus serialized at prepare with 1 % of the objects dirtied during brownout and re-serialized
 * at freeze (relaxed). Target: relaxed blackout at least 5× smaller than strict, in the same run.
 *
 * Uses the built package (`npx tsc -b` first). Run: `node --expose-gc bench/luo-orchestrator.mjs`
 * Options: `--objects N` (default 1000), `--dirty P` (percent, default 1), `--reps N` (default 9;
 * times are medians), `--memory SIZE` (default 1G), `--json FILE`.
 *
 * Method: one fresh machine per run (real clock, poisoning on as by default), one session holding
 * every object. Each object owns one 4 KiB page, preserved in its prepare hook; its state is
 * `{ page: u64, value: u32 }`. The same run dirties the same objects (every 100th) through a
 * `@PhaseGuard({ brownout: "dirty" })` operation in both modes. All times come from the
 * orchestrator's timeline on the machine's real clock:
 * - blackout = freeze start → end of the restore step in the new kernel (the definition:
 *   until the last restore the VMs need), split into freeze (old kernel: freeze hooks,
 *   serialization, LUO handover, KHO finalize), reboot + early boot of the new kernel (poisoning,
 *   KHO memory map, memblock, DI container), and restore (decode + restore hooks);
 * - the "outgoing blackout" (freeze start → freeze end) is reported separately: it is the part the
 *   serialization point can change;
 * - per-object hook overhead: time per object per hook as the timeline measures it around each hook
 *   call, and the orchestrator's own time per object per step (step time minus hook time, ÷ objects).
 * Strict and relaxed runs alternate so drift (JIT, GC, host load) affects both alike; the first
 * pair is a warm-up and is dropped.
 *
 * Then (unless `--no-breakdown`) a few extra runs per mode with the orchestrator's internal steps
 * wrapped in timers (its prototype methods, from the outside; nothing in LUO is changed), to show
 * where the blackout goes. Wrapping adds a little time per call: those runs are not the measurement.
 * The method names are LUO internals: a renamed one is reported as "not found" and skipped.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  bootLiveUpdateKernel,
  defineKernelBuild,
  Kernel,
  Kho,
  LiveUpdateDriver,
  Luo,
  Machine,
  PhaseGuard,
  reserved,
  struct,
  u32,
  u64,
  versionedSchema,
} from "../packages/core/dist/index.js";
import { collectGarbage, loadAverage, median, ms, printEnvironment } from "./lib/stats.mjs";

const { values: options } = parseArgs({
  options: {
    objects: { type: "string", default: "1000" },
    dirty: { type: "string", default: "1" },
    reps: { type: "string", default: "9" },
    memory: { type: "string", default: "1G" },
    json: { type: "string" },
    "no-breakdown": { type: "boolean", default: false },
  },
});
const OBJECTS = Number(options.objects);
const DIRTY_PERCENT = Number(options.dirty);
const REPS = Number(options.reps);
const MEMORY = options.memory;
const TARGET = 5;

// ---- a trivial driver, declared without decorator syntax (plain ESM) -----------------------------

const ThingV1 = struct("bench_thing_v1", { page: u64(), value: u32(), _r: reserved(4) });
const ThingSchema = versionedSchema("bench-thing", ThingV1);

class Thing {
  constructor(page, value) {
    this.page = page;
    this.value = value;
  }
}

function defineDriver(name, serializeAt) {
  const Driver = class {
    constructor(kernel) {
      this.kernel = kernel;
    }
    create(value) {
      return new Thing(this.kernel.allocPages(0), value);
    }
    canPreserve(object) {
      return object instanceof Thing;
    }
    onPrepare(thing, ctx) {
      ctx.preserveFolio(thing.page, 0);
    }
    onSerialize(thing) {
      return { page: BigInt(thing.page), value: thing.value };
    }
    onFreeze() {}
    onRestore(state, ctx) {
      return new Thing(ctx.restoreFolio(Number(state.page), 0), state.value);
    }
    touch(thing) {
      thing.value++;
    }
  };
  Object.defineProperty(Driver, "name", { value: name });
  const descriptor = Object.getOwnPropertyDescriptor(Driver.prototype, "touch");
  PhaseGuard({ brownout: "dirty" })(Driver.prototype, "touch", descriptor);
  Object.defineProperty(Driver.prototype, "touch", descriptor);
  Reflect.defineMetadata("design:paramtypes", [Kernel], Driver);
  LiveUpdateDriver({ schema: ThingSchema, serializeAt })(Driver);
  return Driver;
}

const StrictDriver = defineDriver("StrictThingDriver", "freeze");
const RelaxedDriver = defineDriver("RelaxedThingDriver", "prepare");
const builds = {
  strict: defineKernelBuild({ version: "bench-strict", drivers: [StrictDriver] }),
  relaxed: defineKernelBuild({ version: "bench-relaxed", drivers: [RelaxedDriver] }),
};

// ---- one run ---------------------------------------------------------------------------------------

function stepSpan(events, step, bootId) {
  const start = events.find(
    (e) => e.kind === "step" && e.step === step && e.edge === "start" && e.bootId === bootId,
  );
  const end = events.find(
    (e) => e.kind === "step" && e.step === step && e.edge === "end" && e.bootId === bootId,
  );
  return start !== undefined && end !== undefined ? (end.at - start.at) / 1e6 : Number.NaN;
}

function hookMs(events, hook, bootId) {
  let total = 0;
  let calls = 0;
  for (const e of events) {
    if (e.kind === "hook" && e.hook === hook && e.bootId === bootId && e.owner === "object") {
      total += e.durationNs;
      calls++;
    }
  }
  return { ms: total / 1e6, calls };
}

function run(mode, seed) {
  const Driver = mode === "strict" ? StrictDriver : RelaxedDriver;
  const build = builds[mode];
  const machine = new Machine({ memory: MEMORY });
  const lk = bootLiveUpdateKernel(machine, { build, seed });
  const driver = lk.driver(Driver);
  const session = lk.luo.createSession("bench");
  const things = [];
  for (let i = 0; i < OBJECTS; i++) {
    const thing = driver.create(i);
    session.preserve(i + 1, thing);
    things.push(thing);
  }
  const dirtyEvery = Math.round(100 / DIRTY_PERCENT);
  lk.kernel.kexecLoad(build);
  lk.luo.prepare();
  let dirtied = 0;
  for (let i = 0; i < OBJECTS; i += dirtyEvery) {
    driver.touch(things[i]);
    dirtied++;
  }
  const freeze = lk.luo.freeze();
  const handoff = lk.luo.reboot();
  const next = bootLiveUpdateKernel(machine, {
    build: handoff.build,
    cmdline: handoff.cmdline,
    bootData: handoff.bootData,
    seed: seed + 1,
  });
  // Check the update really happened, with the brownout changes.
  const incoming = next.luo.retrieveSession("bench");
  for (let i = 0; i < OBJECTS; i += dirtyEvery) {
    const back = incoming.retrieve(i + 1);
    if (back.value !== i + 1 || back.page !== things[i].page) throw new Error(`object ${i + 1} not restored`);
  }
  const timeline = next.timeline;
  const summary = timeline.summary();
  const events = timeline.eventsOf(summary.update);
  const oldBoot = lk.kernel.bootId;
  const newBoot = next.kernel.bootId;
  const freezeStart = events.find((e) => e.kind === "step" && e.step === "freeze" && e.edge === "start").at;
  const freezeEnd = events.find((e) => e.kind === "step" && e.step === "freeze" && e.edge === "end").at;
  const restoreStart = events.find((e) => e.kind === "step" && e.step === "restore" && e.edge === "start").at;
  const restoreEnd = summary.restoreEnd;
  const hooks = {};
  for (const hook of ["prepare", "serialize", "encode", "freeze"])
    hooks[hook] = hookMs(events, hook, oldBoot);
  for (const hook of ["decode", "restore"]) hooks[hook] = hookMs(events, hook, newBoot);
  return {
    mode,
    dirtied,
    serializedAtFreeze: freeze.serializedAtFreeze,
    blackout: summary.blackoutNs / 1e6,
    brownout: summary.brownoutNs / 1e6,
    freezeStep: (freezeEnd - freezeStart) / 1e6,
    rebootAndBoot: (restoreStart - freezeEnd) / 1e6,
    restoreStep: (restoreEnd - restoreStart) / 1e6,
    prepareStep: stepSpan(events, "prepare", oldBoot),
    handoverStep: stepSpan(events, "handover", oldBoot),
    handoverBytes: summary.handoverBytes,
    hooks,
  };
}

function medianRun(runs) {
  const pick = (f) => median(runs.map(f));
  const hooks = {};
  for (const hook of Object.keys(runs[0].hooks)) {
    hooks[hook] = { ms: pick((r) => r.hooks[hook].ms), calls: runs[0].hooks[hook].calls };
  }
  return {
    mode: runs[0].mode,
    dirtied: runs[0].dirtied,
    serializedAtFreeze: runs[0].serializedAtFreeze,
    handoverBytes: runs[0].handoverBytes,
    blackout: pick((r) => r.blackout),
    brownout: pick((r) => r.brownout),
    freezeStep: pick((r) => r.freezeStep),
    rebootAndBoot: pick((r) => r.rebootAndBoot),
    restoreStep: pick((r) => r.restoreStep),
    prepareStep: pick((r) => r.prepareStep),
    handoverStep: pick((r) => r.handoverStep),
    samples: runs.map((r) => +r.blackout.toFixed(3)),
    hooks,
  };
}

// ---- main --------------------------------------------------------------------------------------------

printEnvironment();
console.log(
  `# LUO orchestrator: ${OBJECTS} objects of a trivial driver, ${DIRTY_PERCENT} % dirtied in brownout, machine ${MEMORY}, poisoning on, ${REPS} runs per mode (median), real clock`,
);
run("strict", 1);
run("relaxed", 1);
collectGarbage();
const runs = { strict: [], relaxed: [] };
for (let i = 0; i < REPS; i++) {
  for (const mode of ["strict", "relaxed"]) {
    runs[mode].push(run(mode, 10 + i));
    collectGarbage();
  }
}
const strict = medianRun(runs.strict);
const relaxed = medianRun(runs.relaxed);

const us = (msValue) => `${((msValue * 1000) / OBJECTS).toFixed(2)} µs`;
console.log(
  "\n| mode | serialized at freeze | blackout | of which freeze (old kernel) | reboot + boot | restore | brownout (prepare) | handover bytes |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
for (const r of [strict, relaxed]) {
  console.log(
    `| ${r.mode} | ${r.serializedAtFreeze} | ${ms(r.blackout)} | ${ms(r.freezeStep)} | ${ms(r.rebootAndBoot)} | ${ms(r.restoreStep)} | ${ms(r.prepareStep)} | ${r.handoverBytes.toLocaleString("en-US")} |`,
  );
}
const ratio = strict.blackout / relaxed.blackout;
const outgoingRatio = strict.freezeStep / relaxed.freezeStep;
console.log(
  `\nblackout strict / relaxed = ${ratio.toFixed(2)}× (target ≥ ${TARGET}×: ${ratio >= TARGET ? "MET" : "MISSED"})`,
);
console.log(`freeze step (old kernel's share of blackout) strict / relaxed = ${outgoingRatio.toFixed(2)}×`);

console.log(
  "\nPer object (median run ÷ objects): hook time as the timeline measures it, and the orchestrator's own time per step",
);
console.log(
  "| mode | prepare hook | serialize hook | encode | freeze hook | decode | restore hook | prepare step − hooks | freeze step − hooks | restore step − hooks |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of [strict, relaxed]) {
  const h = r.hooks;
  const perCall = (x) => (x.calls === 0 ? "–" : `${((x.ms * 1000) / x.calls).toFixed(2)} µs`);
  const prepareHooks = h.prepare.ms + (r.mode === "relaxed" ? h.serialize.ms + h.encode.ms : 0);
  const freezeHooks = h.freeze.ms + (r.mode === "strict" ? h.serialize.ms + h.encode.ms : 0);
  const restoreHooks = h.decode.ms + h.restore.ms;
  console.log(
    `| ${r.mode} | ${perCall(h.prepare)} | ${perCall(h.serialize)} | ${perCall(h.encode)} | ${perCall(h.freeze)} | ${perCall(h.decode)} | ${perCall(h.restore)} | ${us(r.prepareStep - prepareHooks)} | ${us(r.freezeStep - freezeHooks)} | ${us(r.restoreStep - restoreHooks)} |`,
  );
}
console.log(
  `\nblackout samples (ms): strict ${strict.samples.join(", ")}; relaxed ${relaxed.samples.join(", ")}`,
);

// ---- where the blackout goes (instrumented runs) ---------------------------------------------------

const BREAKDOWN = [
  [
    Luo.prototype,
    "Luo",
    [
      "freeze",
      "runFreeze",
      "serialize",
      "writeHandover",
      "restoreHandover",
      "readHandover",
      "indexHandover",
      "restoreRecord",
      "decodeState",
      "releaseData",
      "runHook",
    ],
  ],
  [Kho.prototype, "Kho", ["finalize", "restoreFolio"]],
  [Kernel.prototype, "Kernel", ["reboot", "allocPages"]],
];
let breakdown;
if (!options["no-breakdown"]) {
  const totals = new Map();
  let measuring = false;
  const restore = [];
  for (const [proto, owner, names] of BREAKDOWN) {
    for (const name of names) {
      const original = proto[name];
      if (typeof original !== "function") {
        console.log(`# breakdown: ${owner}.${name} not found (LUO internals changed), skipped`);
        continue;
      }
      const label = `${owner}.${name}`;
      proto[name] = function (...args) {
        if (!measuring) return original.apply(this, args);
        const start = performance.now();
        try {
          return original.apply(this, args);
        } finally {
          const t = totals.get(label) ?? { ms: 0, calls: 0 };
          t.ms += performance.now() - start;
          t.calls++;
          totals.set(label, t);
        }
      };
      restore.push(() => {
        proto[name] = original;
      });
    }
  }
  breakdown = {};
  const BREAKDOWN_RUNS = 3;
  for (const mode of ["strict", "relaxed"]) {
    totals.clear();
    for (let i = 0; i < BREAKDOWN_RUNS; i++) {
      measuring = true;
      run(mode, 100 + i);
      measuring = false;
      collectGarbage();
    }
    breakdown[mode] = Object.fromEntries(
      [...totals].map(([k, v]) => [k, { ms: v.ms / BREAKDOWN_RUNS, calls: v.calls / BREAKDOWN_RUNS }]),
    );
  }
  for (const undo of restore) undo();
  const labels = [...new Set([...Object.keys(breakdown.strict), ...Object.keys(breakdown.relaxed)])];
  console.log(
    `\nWhere the time goes (mean of ${BREAKDOWN_RUNS} instrumented runs per mode, whole update; inclusive times, calls per run)`,
  );
  console.log("| internal step | strict | relaxed |");
  console.log("|---|---:|---:|");
  const cell = (x) => (x === undefined ? "–" : `${ms(x.ms)} (${x.calls})`);
  for (const label of labels.sort(
    (a, b) => (breakdown.strict[b]?.ms ?? 0) - (breakdown.strict[a]?.ms ?? 0),
  )) {
    console.log(`| ${label} | ${cell(breakdown.strict[label])} | ${cell(breakdown.relaxed[label])} |`);
  }
}
console.log(`# 1-minute load average at the end: ${loadAverage()}`);
if (options.json !== undefined) {
  writeFileSync(
    options.json,
    `${JSON.stringify({ objects: OBJECTS, dirtyPercent: DIRTY_PERCENT, strict, relaxed, ratio, breakdown }, null, 2)}\n`,
  );
}
