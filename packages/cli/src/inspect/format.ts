import { formatBytes, hex } from "@liveupdate/core";
import { textTable } from "../text-table.js";
import type { HandoverReport } from "./inspect.js";

/** Renders an inspection for a terminal: boot data, KHO root, memory per order and owner, subtrees, problems. */
export function formatHandoverReport(report: HandoverReport): string {
  const b = report.bootData;
  const out = [
    `handover in ${report.dir}`,
    `  memory map   ${report.memoryMapSource}`,
    `  boot data    fdt ${b.fdtAddr} (+${b.fdtSize}), scratch array ${b.scratchAddr} (+${b.scratchSize})`,
    `  scratch      ${report.scratch.map((a) => `[${a.addr}, +${formatBytes(a.size)})`).join(" ")}`,
    "",
    "KHO root FDT (kho-v1):",
    ...report.rootDts
      .trimEnd()
      .split("\n")
      .map((l) => `  ${l}`),
    "",
    `preserved memory: ${formatBytes(report.preservedBytes)} in ${report.perOrder.reduce((n, o) => n + o.folios, 0)} folio(s); memory map in ${report.memoryMapChunks.length} chunk page(s) (${report.memoryMapChunks.join(" ")})`,
    ...textTable([
      ["  order", "folios", "bytes"],
      ...report.perOrder.map((o) => [`  ${o.order}`, String(o.folios), formatBytes(o.bytes)]),
    ]),
    "",
    "preserved memory per owner:",
    ...textTable([
      ["  owner", "folios", "bytes"],
      ...report.perOwner.map((o) => [`  ${o.owner}`, String(o.folios), formatBytes(o.bytes)]),
    ]),
  ];
  for (const s of report.subtrees) {
    out.push(
      "",
      `subtree ${s.name}: blob ${s.phys} (${s.size} bytes)${s.compatible === undefined ? "" : `, compatible "${s.compatible}"`}`,
      ...s.lines.map((l) => `  ${l}`),
    );
  }
  if (report.problems.length > 0) {
    out.push("", `PROBLEMS (${report.problems.length}):`);
    for (const p of report.problems) {
      const phys = typeof p.context.phys === "number" ? ` at ${hex(p.context.phys)} (file offset)` : "";
      out.push(`  ${p.where}: ${p.code}${phys}: ${p.message}`, `    ${JSON.stringify(p.context, bigints)}`);
    }
  }
  return `${out.join("\n")}\n`;
}

function bigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? `0x${value.toString(16)}` : value;
}

/** The report as `--json` prints it (terminal lines left out). */
export function handoverReportJson(report: HandoverReport): unknown {
  return { ...report, subtrees: report.subtrees.map(({ lines: _lines, ...rest }) => rest) };
}
