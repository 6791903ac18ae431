/**
 * iommufd adopt benchmark (issue 11): restore of a preserved domain with 10, 10,000 and 1,000,000
 * 4 KiB mappings, and a 2 MiB-page variant (the 1,000,000-page range mapped with 2 MiB leaves):
 * adopt in place — the new kernel's restore of the iommufd context, including the validation walk
 * of every table page — against a baseline that replays every mapping into fresh tables, as a VMM
 * re-registering its DMA mappings after a restart does. Target: adopt ≥ 50× faster than the replay
 * at 1,000,000 mappings. Both are also given as a share of the update's blackout.
 *
 * Uses the built packages (`npx tsc -b` first). Run: `node --expose-gc bench/iommufd-adopt.mjs`
 * Options: `--reps N` (default 3; times are medians), `--json` (only the figures, as JSON on standard output).
 *
 * Method: per run, a fresh 8 GiB machine (sparse RAM, poisoning on) boots a kernel with
 * `guestmemfs=5G`; one guestmemfs file backs the mappings; the VMM registers them in areas of up
 * to 2 MiB (512 mappings each) into a HWPT without large pages (with large pages for the 2 MiB
 * variant), attaches a device, preserves file and context in one session and updates to a second
 * build. Adopt = the `restore` hook time of the context from the orchestrator's timeline (walk of
 * every table page against the areas and the file's extents, restore of the folios, bookkeeping).
 * Replay, in the new kernel and the same process: a fresh context, IOAS and HWPT, then one
 * `IOMMU_IOAS_MAP_FILE` per mapping (4 KiB, or 2 MiB in the variant) — every mapping re-issued.
 * "Replay per area" re-issues the VMM's areas instead (512× fewer calls), for reference. The
 * scenarios alternate within each repetition; one warm-up repetition is dropped.
 */
import { parseArgs } from "node:util";
import { defineKernelBuild } from "../packages/core/dist/index.js";
import { LiveUpdateHarness } from "../packages/core/dist/testkit/index.js";
import { IommufdDriver } from "../packages/drivers-iommufd/dist/index.js";
import { GuestmemfsDriver } from "../packages/guestmemfs/dist/index.js";
import { benchOutput } from "./lib/output.mjs";
import { collectGarbage, loadAverage, median, ms } from "./lib/stats.mjs";

const { values: options } = parseArgs({
  options: { reps: { type: "string", default: "3" }, json: { type: "boolean", default: false } },
});
const out = benchOutput(options);
const REPS = Number(options.reps);
const TARGET = 50;
const PAGE = 4096;
const LARGE = 2 * 1024 * 1024;
const AREA_PAGES = 512;
const SCENARIOS = [
  { name: "10 × 4 KiB", pages: 10, large: false },
  { name: "10,000 × 4 KiB", pages: 10_000, large: false },
  { name: "1,000,000 × 4 KiB", pages: 1_000_000, large: false },
  { name: "1,954 × 2 MiB (the same 3.8 GiB)", pages: 1_000_000, large: true },
];
const cmdline = "kho=on guestmemfs=5G";
const from = defineKernelBuild({
  version: "6.18.0-iommufd",
  drivers: [GuestmemfsDriver, IommufdDriver],
  cmdline,
});
const to = defineKernelBuild({
  version: "6.18.1-iommufd",
  drivers: [GuestmemfsDriver, IommufdDriver],
  cmdline,
});
const IOVA_BASE = 0x1_0000_0000;

/** The areas of a scenario: [iova, offset, length], up to 2 MiB each. */
function areasOf(pages) {
  const out = [];
  for (let p = 0; p < pages; p += AREA_PAGES) {
    const n = Math.min(AREA_PAGES, pages - p);
    out.push([IOVA_BASE + p * PAGE, p * PAGE, n * PAGE]);
  }
  return out;
}

function runScenario(s, seed) {
  const h = LiveUpdateHarness.boot({ from, to, memory: "8G", seed });
  const gm = h.driver(GuestmemfsDriver);
  const fd = h.driver(IommufdDriver);
  const bytes = Math.ceil((s.pages * PAGE) / LARGE) * LARGE;
  const file = gm.create("vm-ram", { size: bytes });
  const ctx = fd.open();
  const ioas = fd.ioasAlloc(ctx);
  const hwpt = fd.hwptAlloc(ioas, { largePages: s.large });
  fd.attach(fd.bind(ctx, "00:04.0"), hwpt);
  const areas = s.large ? [[IOVA_BASE, 0, bytes]] : areasOf(s.pages);
  for (const [iova, offset, length] of areas) fd.map(ioas, { iova, file, offset, length });
  const tablePages = hwpt.table.pages.size;
  h.preserve(1, file);
  h.preserve(2, ctx);
  collectGarbage();
  const result = h.update();
  const restored = result.summary.perObject.find((o) => o.token === 2n);
  const adoptMs = restored.byHook.restore / 1e6;
  const decodeMs = (restored.byHook.decode ?? 0) / 1e6;
  const blackoutMs = result.summary.blackoutNs / 1e6;
  const adopted = [...result.restored(2).hwpts.values()][0];
  if (adopted.table.top !== hwpt.table.top || adopted.table.pages.size !== tablePages)
    throw new Error("the adopted domain is not the preserved one");

  // Baseline, same process, new kernel: every mapping re-issued into fresh tables.
  const next = result.kernel.driver(IommufdDriver);
  const newFile = result.restored(1);
  const replay = (unit) => {
    const c = next.open();
    const io = next.ioasAlloc(c);
    next.hwptAlloc(io, { largePages: s.large });
    collectGarbage();
    const start = performance.now();
    if (unit === "mapping") {
      const step = s.large ? LARGE : PAGE;
      const count = s.large ? bytes / LARGE : s.pages;
      for (let i = 0; i < count; i++)
        next.map(io, { iova: IOVA_BASE + i * step, file: newFile, offset: i * step, length: step });
    } else {
      for (const [iova, offset, length] of areas) next.map(io, { iova, file: newFile, offset, length });
    }
    const took = performance.now() - start;
    next.close(c);
    collectGarbage();
    return took;
  };
  const replayMs = replay("mapping");
  const replayAreaMs = replay("area");
  return { adoptMs, decodeMs, blackoutMs, replayMs, replayAreaMs, tablePages, areas: areas.length };
}

out.environment();
out.log(`# iommufd adopt vs replay, ${REPS} repetitions (+1 warm-up), medians`);
const samples = SCENARIOS.map(() => []);
const progress = out.progress((REPS + 1) * SCENARIOS.length);
for (let rep = 0; rep <= REPS; rep++) {
  SCENARIOS.forEach((s, i) => {
    progress.tick(`rep ${rep}${rep === 0 ? " (warm-up)" : ""} ${s.name}`);
    const r = runScenario(s, 1000 + rep * 10 + i);
    if (rep > 0) samples[i].push(r);
  });
}
progress.stop();
const rows = SCENARIOS.map((s, i) => {
  const m = (k) => median(samples[i].map((r) => r[k]));
  const row = {
    scenario: s.name,
    mappings: s.large ? (Math.ceil((s.pages * PAGE) / LARGE) * LARGE) / LARGE : s.pages,
    areas: samples[i][0].areas,
    tablePages: samples[i][0].tablePages,
    adoptMs: m("adoptMs"),
    decodeMs: m("decodeMs"),
    replayMs: m("replayMs"),
    replayAreaMs: m("replayAreaMs"),
    blackoutMs: m("blackoutMs"),
  };
  return {
    ...row,
    ratio: row.replayMs / row.adoptMs,
    adoptShare: row.adoptMs / row.blackoutMs,
    replayShare: row.replayMs / (row.blackoutMs - row.adoptMs + row.replayMs),
  };
});
out.log(
  "| scenario | mappings | areas | table pages | adopt (walk incl.) | decode | replay per mapping | replay per area | replay / adopt | adopt share of blackout | replay share of blackout |",
);
out.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  out.log(
    `| ${r.scenario} | ${r.mappings.toLocaleString("en")} | ${r.areas.toLocaleString("en")} | ${r.tablePages.toLocaleString("en")} | ${ms(r.adoptMs)} | ${ms(r.decodeMs)} | ${ms(r.replayMs)} | ${ms(r.replayAreaMs)} | ${r.ratio.toFixed(1)}× | ${(100 * r.adoptShare).toFixed(1)} % | ${(100 * r.replayShare).toFixed(1)} % |`,
  );
}
const big = rows.find((r) => r.scenario.startsWith("1,000,000"));
const pass = big.ratio >= TARGET;
out.log(
  `# target: replay / adopt ≥ ${TARGET}× at 1,000,000 mappings: ${big.ratio.toFixed(1)}× — ${pass ? "PASS" : "FAIL"}`,
);
out.log(`# 1-minute load average at the end: ${loadAverage()}`);
out.figures({ benchmark: "iommufd-adopt", reps: REPS, target: TARGET, pass, rows });
