/**
 * guestmemfs benchmark (issue 10): a live update of a guestmemfs holding 1 GiB and 48 GiB of file
 * data in 10 and 1,000 files — blackout, brownout and bytes handed over — against a stop-and-copy
 * baseline. Targets, in one run: blackout at 48 GiB within 1.2× of blackout at 1 GiB for the same
 * file count (cost follows metadata, not data), and the stop-and-copy blackout at 48 GiB at least
 * 100× ours.
 *
 * Uses the built packages (`npx tsc -b` first). Run: `node --expose-gc bench/guestmemfs.mjs`
 * Options: `--reps N` (default 7; times are medians), `--memory SIZE` (default 64G, sparse),
 * `--carve SIZE` (default 49G: `guestmemfs=` of both kernels), `--copy-extents N` (extents copied to
 * measure the baseline's per-extent cost, default 64), `--json FILE`.
 *
 * Method: per run, a fresh 64 GiB machine (sparse emulated RAM, poisoning on as by default) boots a
 * kernel with `guestmemfs=49G`; the files are created with equal sizes summing to the data size and
 * one 4 KiB page of random bytes is written into each file through its mapping (a sample: the rest
 * of the data is never-written memory, which the emulation stores as nothing). Every file is
 * preserved in one session; the harness updates to a second build and the VMM model retrieves
 * every file before marking the VMs resumed. Times come from the orchestrator's timeline (real
 * clock): brownout = prepare → freeze (extents preserved as order-9 folios, inodes serialized),
 * blackout = freeze → resume mark (freeze, LUO handover, KHO finalize, kexec with poisoning, early
 * boot with the carve-out, handover validation, restore of every inode). After each run the
 * samples are checked and the bytes written into data extents by the update are counted
 * (`DataExtentAudit`; must be 0). The four scenarios alternate within each repetition, so drift
 * affects them alike; one warm-up repetition is dropped.
 *
 * Stop-and-copy baseline: a save/restore without in-place preservation copies every file's data
 * out before the kexec and back after it, inside the blackout. Copying 48 GiB for real would need
 * 48 GiB of host memory, so the per-extent cost is measured in the same run — `--copy-extents`
 * extents of written (backed) memory copied out to a host buffer and back with `memory.read` /
 * `memory.write`, median of the repetitions — and the baseline blackout is our blackout plus that
 * cost times the number of extents. It is a lower bound (a real save goes to storage).
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { defineKernelBuild, GiB, Prng } from "../packages/core/dist/index.js";
import { LiveUpdateHarness } from "../packages/core/dist/testkit/index.js";
import { DataExtentAudit, EXTENT_SIZE, GuestmemfsDriver } from "../packages/guestmemfs/dist/index.js";
import { bytes, loadAverage, median, ms, printEnvironment } from "./lib/stats.mjs";

const { values: options } = parseArgs({
  options: {
    reps: { type: "string", default: "7" },
    memory: { type: "string", default: "64G" },
    carve: { type: "string", default: "49G" },
    "copy-extents": { type: "string", default: "64" },
    json: { type: "string" },
  },
});
const REPS = Number(options.reps);
const COPY_EXTENTS = Number(options["copy-extents"]);
const DATA = [1, 48];
const FILES = [10, 1000];
const TARGET_SCALE = 1.2;
const TARGET_BASELINE = 100;
const PAGE = 4096;

const cmdline = `kho=on guestmemfs=${options.carve}`;
const from = defineKernelBuild({ version: "6.18.0-gmfs", drivers: [GuestmemfsDriver], cmdline });
const to = defineKernelBuild({ version: "6.18.1-gmfs", drivers: [GuestmemfsDriver], cmdline });

/** One update of `files` files holding `dataGiB` GiB; returns its figures. */
function runUpdate(dataGiB, files, seed) {
  const h = LiveUpdateHarness.boot({ from, to, memory: options.memory, seed });
  const fs = h.driver(GuestmemfsDriver);
  const rng = new Prng(seed);
  const total = dataGiB * GiB;
  const made = [];
  for (let i = 0; i < files; i++) {
    const size = Math.floor(total / files) + (i === files - 1 ? total % files : 0);
    const file = fs.create(`vm-${i}`, { size });
    const page = new Uint8Array(PAGE);
    rng.fill(page);
    const offset = Math.floor(rng.int(0, Math.floor(size / PAGE) - 1)) * PAGE;
    const mapping = fs.mmap(file);
    mapping.write(offset, page);
    mapping.unmap();
    made.push({ file, offset, page });
  }
  made.forEach(({ file }, i) => {
    h.preserve(i + 1, file);
  });
  const audit = DataExtentAudit.capture(
    h.machine.memory,
    made.flatMap(({ file }) => file.runs),
  );
  const result = h.update();
  const next = result.kernel.driver(GuestmemfsDriver);
  made.forEach(({ file, offset, page }, i) => {
    const back = result.restored(i + 1);
    const read = next.mmap(back, { write: false }).read(offset, PAGE);
    if (back.runs.length !== file.runs.length || read.some((b, j) => b !== page[j])) {
      throw new Error(`file ${i} did not survive the update`);
    }
  });
  const written = audit.bytesChanged(h.machine.memory);
  if (written !== 0) throw new Error(`the update wrote ${written} bytes into data extents`);
  const extents = made.reduce((n, { file }) => n + file.extents, 0);
  // Per-extent cost of copying data out and back (the stop-and-copy baseline), on backed memory.
  const copy = copyCost(result.kernel.machine.memory, made[0].file.runs[0].phys);
  return {
    blackoutMs: result.summary.blackoutNs / 1e6,
    brownoutMs: result.summary.brownoutNs / 1e6,
    handoverBytes: result.summary.handoverBytes,
    extents,
    bytesWrittenToData: written,
    copyMsPerExtent: copy,
  };
}

/** Milliseconds to copy one 2 MiB extent out to a host buffer and back (median of COPY_EXTENTS). */
function copyCost(memory, phys) {
  const buffer = new Uint8Array(EXTENT_SIZE);
  const times = [];
  const filler = new Prng(7);
  const src = new Uint8Array(EXTENT_SIZE);
  filler.fill(src);
  for (let i = 0; i < COPY_EXTENTS; i++) {
    memory.write(phys, src); // real data, so the copy moves real bytes
    const start = performance.now();
    memory.readInto(phys, buffer);
    memory.write(phys, buffer);
    times.push(performance.now() - start);
  }
  return median(times);
}

printEnvironment();
console.log(
  `# machine ${options.memory}, ${cmdline}, ${REPS} repetitions (+1 warm-up), scenarios interleaved`,
);
const samples = new Map();
for (let rep = 0; rep <= REPS; rep++) {
  for (const files of FILES) {
    for (const data of DATA) {
      const figures = runUpdate(data, files, 1000 * rep + files + data);
      if (rep === 0) continue;
      const key = `${data}G/${files}`;
      if (!samples.has(key)) samples.set(key, []);
      samples.get(key).push(figures);
    }
  }
}

const results = {};
for (const [key, runs] of samples) {
  const pick = (f) => median(runs.map(f));
  const blackoutMs = pick((r) => r.blackoutMs);
  const copyMsPerExtent = pick((r) => r.copyMsPerExtent);
  results[key] = {
    blackoutMs,
    brownoutMs: pick((r) => r.brownoutMs),
    handoverBytes: runs[0].handoverBytes,
    extents: runs[0].extents,
    bytesWrittenToData: Math.max(...runs.map((r) => r.bytesWrittenToData)),
    stopAndCopyBlackoutMs: blackoutMs + copyMsPerExtent * runs[0].extents,
    copyMsPerExtent,
  };
}
console.log(
  "| data | files | extents | brownout | blackout | handed over | bytes written into data | stop-and-copy blackout |",
);
console.log("|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const [key, r] of Object.entries(results)) {
  const [data, files] = key.split("/");
  console.log(
    `| ${data}iB | ${files} | ${r.extents} | ${ms(r.brownoutMs)} | ${ms(r.blackoutMs)} | ${bytes(r.handoverBytes)} | ${r.bytesWrittenToData} | ${ms(r.stopAndCopyBlackoutMs)} |`,
  );
}
const ratios = {};
let pass = true;
for (const files of FILES) {
  const small = results[`1G/${files}`];
  const large = results[`48G/${files}`];
  const scale = large.blackoutMs / small.blackoutMs;
  const baseline = large.stopAndCopyBlackoutMs / large.blackoutMs;
  ratios[files] = { scale, baseline };
  const ok = scale <= TARGET_SCALE && baseline >= TARGET_BASELINE;
  pass &&= ok;
  console.log(
    `${files} files: blackout(48 GiB) / blackout(1 GiB) = ${scale.toFixed(2)} (target ≤ ${TARGET_SCALE}); stop-and-copy / ours at 48 GiB = ${baseline.toFixed(0)}× (target ≥ ${TARGET_BASELINE}×) — ${ok ? "PASS" : "FAIL"}`,
  );
}
console.log(`# 1-minute load average at the end: ${loadAverage()}`);
if (options.json !== undefined) {
  writeFileSync(
    options.json,
    `${JSON.stringify({ memory: options.memory, carve: options.carve, reps: REPS, results, ratios, pass }, null, 2)}\n`,
  );
}
