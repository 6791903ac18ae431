/**
 * KHO handover benchmark (issue 2 §6): preserve + serialize + deserialize (+ restore) of 1, 16 and
 * 64 GiB of preserved memory in 2 MiB folios (order 9) and 4 KiB folios (order 0), with the
 * memory-map metadata checked against the kho-v1 formula.
 *
 * Uses the built package (`npx tsc -b` first). Run: `node --expose-gc bench/kho-handover.mjs`
 * Options: `--sizes 1,16,64` (GiB), `--orders 9,0`, `--reps N` (default 9 up to 64 Ki folios, 5
 * under 1 M folios, 1 above; times are medians), `--no-restore`, `--no-poison` (reboot without poisoning
 * unpreserved memory; poisoning is the kernel's default and is kept on: on sparse memory it costs
 * tens of milliseconds), `--json` (only the figures, as JSON on standard output).
 *
 * Method: one 80 GiB sparse machine per case. The preserved range starts at 8 GiB, which is aligned
 * to the bitmap span of every order (8 GiB for order 9, 16 MiB for order 0), so the range is
 * contiguous and window-aligned and the format's formula is exact:
 *   bitmaps = ceil(folios / 4096), metadata = bitmaps * 512 + ceil(bitmaps / 255) * 4096.
 * Memory is allocated as order-10 blocks covering exactly that range (so the allocator is not what
 * is measured), then preserved as folios of the case's order. `finalize` also preserves the root
 * FDT page (one order-0 folio elsewhere in memory), which costs one more order-0 bitmap and, when
 * that order has no chunk yet or its last chunk is full, one more chunk: the check includes it.
 * The metadata is measured on what the incoming side actually walked (chunks × 4096 + bitmaps × 512)
 * and must also equal the outgoing finalize report. Exit code 1 on any MISMATCH.
 *
 * Baseline in the same process: setting the same number of bits in a plain `Uint8Array` bitmap (the
 * irreducible cost of the format); preserve is reported as a ratio to it.
 */
import { parseArgs } from "node:util";
import {
  bootKernel,
  defineKernelBuild,
  GiB,
  KHO_MEM_PHYS_BITS_SIZE,
  KHOSER_BITMAP_SIZE,
  KHOSER_MEM_CHUNK_SIZE,
  kexecBoot,
  Machine,
  PAGE_SIZE,
  PRESERVE_BITS,
} from "../packages/core/dist/index.js";
// Not part of the public surface: used only to time the memory-map read on its own.
import { readIncomingMemoryMap, readRootFdt, readScratchAreas } from "../packages/core/dist/kho/incoming.js";
import { benchOutput } from "./lib/output.mjs";
import { bytes, collectGarbage, loadAverage, median, ms, now } from "./lib/stats.mjs";

const { values: options } = parseArgs({
  options: {
    sizes: { type: "string", default: "1,16,64" },
    orders: { type: "string", default: "9,0" },
    reps: { type: "string" },
    "no-restore": { type: "boolean", default: false },
    "no-poison": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const out = benchOutput(options);
const SIZES_GIB = options.sizes.split(",").map(Number);
const ORDERS = options.orders.split(",").map(Number);
const RESTORE = !options["no-restore"];
const POISON = !options["no-poison"];

const MACHINE = "80G";
const BASE = 8 * GiB;
const BLOCK_ORDER = 10;
const BLOCK_BYTES = PAGE_SIZE * 2 ** BLOCK_ORDER;
const v1 = defineKernelBuild({ version: "6.16.0-bench-a" });
const v2 = defineKernelBuild({ version: "6.16.0-bench-b" });

/** kho-v1 metadata of `folios` contiguous, window-aligned folios of one order. */
function formula(folios) {
  const bitmaps = Math.ceil(folios / PRESERVE_BITS);
  const chunks = Math.ceil(bitmaps / KHOSER_BITMAP_SIZE);
  return { bitmaps, chunks, bytes: bitmaps * KHO_MEM_PHYS_BITS_SIZE + chunks * KHOSER_MEM_CHUNK_SIZE };
}

/** Expected metadata: the bench folios by the formula plus the root FDT page (order 0, its own window). */
function expectedMetadata(folios, order) {
  const windows = new Map([[order, Math.ceil(folios / PRESERVE_BITS)]]);
  windows.set(0, (windows.get(0) ?? 0) + 1);
  let bitmaps = 0;
  let chunks = 0;
  for (const w of windows.values()) {
    bitmaps += w;
    chunks += Math.ceil(w / KHOSER_BITMAP_SIZE);
  }
  return { bitmaps, chunks, bytes: bitmaps * KHO_MEM_PHYS_BITS_SIZE + chunks * KHOSER_MEM_CHUNK_SIZE };
}

/** Allocates the order-10 blocks covering exactly [base, end); everything else allocated on the way is freed. */
function allocateRange(kernel, base, end) {
  const wanted = (end - base) / BLOCK_BYTES;
  const outside = [];
  let got = 0;
  while (got < wanted) {
    const phys = kernel.allocPages(BLOCK_ORDER);
    if (phys >= base && phys < end) got++;
    else if (phys >= end)
      throw new Error(`allocator went past the target range at ${phys} (${got}/${wanted})`);
    else outside.push(phys);
  }
  for (const phys of outside) kernel.freePages(phys, BLOCK_ORDER);
}

/**
 * Plain-JS baseline: set `count` bits (bit = folio index, as the format numbers them) in a plain
 * Uint8Array bitmap. Warmed up, then the median of 7 samples of at least ~2 M bits each; ns per bit.
 */
function baselineNsPerBit(count, order) {
  const first = BASE / PAGE_SIZE / 2 ** order;
  const bitmap = new Uint8Array(Math.ceil((first + count) / 8));
  const inner = Math.max(1, Math.ceil(2_000_000 / count));
  let sink = 0;
  const pass = () => {
    for (let r = 0; r < inner; r++) {
      for (let i = 0; i < count; i++) {
        const bit = first + i;
        bitmap[bit >>> 3] |= 1 << (bit & 7);
      }
      sink += bitmap[(first + count - 1) >>> 3];
      bitmap[(first + count - 1) >>> 3] = 0;
    }
  };
  pass();
  const samples = [];
  for (let s = 0; s < 7; s++) {
    const start = now();
    pass();
    samples.push(((now() - start) * 1e6) / (inner * count));
  }
  if (sink === 0) throw new Error("baseline optimised away");
  return median(samples);
}

function runCase(sizeGiB, order) {
  const size = sizeGiB * GiB;
  const end = BASE + size;
  const folioBytes = PAGE_SIZE * 2 ** order;
  const folios = size / folioBytes;
  const t = {};

  const machine = new Machine({ memory: MACHINE });
  const { kernel, kho } = bootKernel(machine, { build: v1, seed: 1, poisonOnReboot: POISON });

  let mark = now();
  allocateRange(kernel, BASE, end);
  t.alloc = now() - mark;

  mark = now();
  for (let phys = BASE; phys < end; phys += folioBytes) kho.preserveFolio(phys, order);
  t.preserve = now() - mark;

  mark = now();
  const report = kho.finalize();
  t.finalize = now() - mark;

  kernel.kexecLoad(v2);
  mark = now();
  const handoff = kernel.reboot();
  t.reboot = now() - mark;

  // The memory-map read on its own (what kexecBoot does first: kho_populate + kho_mem_deserialize).
  mark = now();
  const scratch = readScratchAreas(machine.memory, handoff.bootData);
  const root = readRootFdt(machine.memory, handoff.bootData, scratch);
  const map = readIncomingMemoryMap(machine.memory, root, scratch);
  t.readMap = now() - mark;

  mark = now();
  const next = kexecBoot(handoff, { seed: 2, poisonOnReboot: POISON });
  t.kexecBoot = now() - mark;

  let restoreError;
  if (RESTORE) {
    mark = now();
    let phys = BASE;
    try {
      for (; phys < end; phys += folioBytes) next.kho.restoreFolio(phys, order);
    } catch (error) {
      const frames = String(error.stack)
        .split("\n")
        .filter((line) => line.trim().startsWith("at "))
        .slice(0, 4)
        .map((line) =>
          line
            .trim()
            .replace(/^at /, "")
            .replace(/\(?file:\/\/.*\/dist\//, "(")
            .replace(/:\d+\)?$/, ")"),
        );
      restoreError = `${error.name}: ${error.message} after ${(phys - BASE) / folioBytes} of ${folios} folios [${frames.join(" ← ")}]`;
    }
    t.restore = now() - mark;
  }

  // What the incoming kernel walked.
  let walkedBitmaps = 0;
  for (const perOrder of map.bitmaps.values()) walkedBitmaps += perOrder.size;
  const walked = {
    chunks: map.chunks.length,
    bitmaps: walkedBitmaps,
    bytes: map.chunks.length * KHOSER_MEM_CHUNK_SIZE + walkedBitmaps * KHO_MEM_PHYS_BITS_SIZE,
  };
  const expected = expectedMetadata(folios, order);
  const problems = [];
  for (const key of ["chunks", "bitmaps", "bytes"]) {
    if (walked[key] !== expected[key])
      problems.push(`walked ${key} ${walked[key]} ≠ expected ${expected[key]}`);
  }
  if (report.metadataBytes !== walked.bytes)
    problems.push(`finalize report ${report.metadataBytes} B ≠ walked ${walked.bytes} B`);
  if (report.chunks !== walked.chunks || report.bitmaps !== walked.bitmaps)
    problems.push("finalize report chunk/bitmap counts differ from the walked map");
  if (map.folioCounts[order] !== folios + (order === 0 ? 1 : 0))
    problems.push(`incoming sees ${map.folioCounts[order]} order-${order} folios, expected ${folios}`);
  if (next.kho.incoming.memoryMap.chunks.length !== walked.chunks)
    problems.push("kexecBoot walked a different number of chunks");

  const baseline = baselineNsPerBit(folios, order);
  const preserveNs = (t.preserve * 1e6) / folios;
  return {
    sizeGiB,
    order,
    folioBytes,
    folios,
    timesMs: t,
    perGiBMs: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v / sizeGiB])),
    preserveNsPerFolio: preserveNs,
    baselineNsPerBit: baseline,
    preserveVsBaseline: preserveNs / baseline,
    metadata: {
      walked,
      expected,
      benchFormula: formula(folios),
      report: { chunks: report.chunks, bitmaps: report.bitmaps, bytes: report.metadataBytes },
      bytesPerGiB: walked.bytes / sizeGiB,
      benchFormulaBytesPerGiB: formula(folios).bytes / sizeGiB,
    },
    match: problems.length === 0,
    problems,
    restoreError,
    poisonedBytes: handoff.poisonedBytes,
    heapUsedMiB: process.memoryUsage().heapUsed / 2 ** 20,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
  };
}

function printCase(r) {
  const granularity = r.order === 9 ? "2 MiB" : "4 KiB";
  const p = r.perGiBMs;
  const m = r.metadata;
  out.log(
    `\n${r.sizeGiB} GiB in ${granularity} folios (order ${r.order}, ${r.folios.toLocaleString("en-US")} folios; median of ${r.reps})`,
  );
  out.log(
    `  alloc ${ms(r.timesMs.alloc)} · preserve ${ms(r.timesMs.preserve)} · finalize ${ms(r.timesMs.finalize)} · reboot ${ms(r.timesMs.reboot)} · read memory map ${ms(r.timesMs.readMap)} · kexecBoot ${ms(r.timesMs.kexecBoot)}${r.timesMs.restore !== undefined ? ` · restore ${ms(r.timesMs.restore)}` : ""}`,
  );
  out.log(
    `  per GiB: preserve ${ms(p.preserve)} · serialize ${ms(p.finalize)} · reboot ${ms(p.reboot)} · read map ${ms(p.readMap)} · deserialize (kexecBoot) ${ms(p.kexecBoot)}${p.restore !== undefined ? ` · restore ${ms(p.restore)}` : ""}`,
  );
  out.log(
    `  preserve ${r.preserveNsPerFolio.toFixed(0)} ns/folio vs plain bitmap ${r.baselineNsPerBit.toFixed(2)} ns/bit → ×${r.preserveVsBaseline.toFixed(0)}`,
  );
  out.log(
    `  metadata ${m.walked.bytes} B (${m.walked.chunks} chunks, ${m.walked.bitmaps} bitmaps) = ${bytes(m.bytesPerGiB)}/GiB; ` +
      `expected ${m.expected.bytes} B = formula ${m.benchFormula.bytes} B (${bytes(m.benchFormulaBytesPerGiB)}/GiB) + root FDT page ${m.expected.bytes - m.benchFormula.bytes} B → ${r.match ? "MATCH" : "MISMATCH"}`,
  );
  for (const problem of r.problems) out.log(`  !! ${problem}`);
  if (r.restoreError !== undefined) out.log(`  !! RESTORE FAILED: ${r.restoreError}`);
  out.log(`  host: heap ${r.heapUsedMiB.toFixed(0)} MiB, rss ${r.rssMiB.toFixed(0)} MiB`);
}

function markdownRow(r) {
  const p = r.perGiBMs;
  const cell = (v) => (v === undefined ? "—" : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2));
  return `| ${r.sizeGiB} GiB | ${r.order === 9 ? "2 MiB" : "4 KiB"} | ${r.folios.toLocaleString("en-US")} | ${cell(p.preserve)} | ${cell(p.finalize)} | ${cell(p.reboot)} | ${cell(p.readMap)} | ${cell(p.kexecBoot)} | ${r.restoreError !== undefined ? "FAILED" : cell(p.restore)} | ×${r.preserveVsBaseline.toFixed(0)} | ${r.metadata.walked.bytes.toLocaleString("en-US")} | ${bytes(r.metadata.bytesPerGiB)} | ${r.metadata.expected.bytes.toLocaleString("en-US")} | ${r.match ? "MATCH" : "MISMATCH"} |`;
}

/** Runs a case `reps` times; times are medians, everything else must agree across repetitions. */
function runRepeated(sizeGiB, order) {
  const folios = (sizeGiB * GiB) / (PAGE_SIZE * 2 ** order);
  const reps =
    options.reps !== undefined ? Number(options.reps) : folios <= 65_536 ? 9 : folios < 1_000_000 ? 5 : 1;
  const runs = [];
  for (let i = 0; i < reps; i++) {
    runs.push(runCase(sizeGiB, order));
    collectGarbage();
  }
  const result = { ...runs[0], reps };
  result.timesMs = {};
  for (const key of Object.keys(runs[0].timesMs))
    result.timesMs[key] = median(runs.map((r) => r.timesMs[key]));
  result.perGiBMs = Object.fromEntries(Object.entries(result.timesMs).map(([k, v]) => [k, v / sizeGiB]));
  result.preserveNsPerFolio = (result.timesMs.preserve * 1e6) / folios;
  result.baselineNsPerBit = median(runs.map((r) => r.baselineNsPerBit));
  result.preserveVsBaseline = result.preserveNsPerFolio / result.baselineNsPerBit;
  result.match = runs.every((r) => r.match && r.metadata.walked.bytes === runs[0].metadata.walked.bytes);
  result.problems = [...new Set(runs.flatMap((r) => r.problems))];
  result.restoreError = runs.find((r) => r.restoreError !== undefined)?.restoreError;
  return result;
}

out.environment();
out.log(
  `# KHO handover: machine ${MACHINE}, range from 8 GiB, poison at reboot ${POISON ? "on" : "off"}, restore ${RESTORE ? "on" : "off"}`,
);

// Warm-up: JIT-compile every path on a small case so the 1 GiB numbers measure steady state.
for (const order of ORDERS) runCase(1, order);
collectGarbage();

const results = [];
const progress = out.progress(SIZES_GIB.length * ORDERS.length);
for (const sizeGiB of SIZES_GIB) {
  for (const order of ORDERS) {
    progress.tick(`${sizeGiB} GiB in order-${order} folios`);
    const result = runRepeated(sizeGiB, order);
    printCase(result);
    results.push(result);
  }
}
progress.stop();

out.log(
  "\n| preserved | folio | folios | preserve ms/GiB | serialize ms/GiB | reboot ms/GiB | read map ms/GiB | kexecBoot ms/GiB | restore ms/GiB | preserve vs plain bitmap | metadata B | metadata /GiB | expected B | check |",
);
out.log("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
for (const r of results) out.log(markdownRow(r));

out.log(`# 1-minute load average at the end: ${loadAverage()}`);
out.figures(results);
const failed = results.filter((r) => !r.match);
if (failed.length > 0) {
  out.log(`\nMISMATCH in ${failed.length} case(s)`);
  process.exitCode = 1;
} else {
  out.log("\nall metadata sizes MATCH the kho-v1 formula");
}
