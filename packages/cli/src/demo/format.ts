import { formatBytes } from "@liveupdate/core";
import { textTable } from "../text-table.js";
import { ganttRows } from "./gantt.js";
import type { DemoReport } from "./report.js";

const ms = (ns: number): string => `${(ns / 1e6).toFixed(1)} ms`;

/** The human summary of a demo run: result, versions, a Gantt chart per update, checks, VMs. */
export function formatDemoReport(report: DemoReport, files: readonly string[] = []): string {
  const lines: string[] = [
    `liveupdate demo: ${report.result}`,
    `  ${report.from} → ${report.to}, seed ${report.seed}, ${report.vms.length} VMs`,
    "",
  ];
  if (report.negotiated.length > 0) {
    lines.push("  versions (last update)");
    lines.push(
      ...textTable([
        ["driver", "written", "read"],
        ...report.negotiated.map((n) => [n.name, `v${n.written}`, `v${n.read}`]),
      ]).map((l) => `    ${l}`),
      "",
    );
  }
  report.updates.forEach((u, i) => {
    lines.push(
      `  update ${i + 1}: ${u.from} → ${u.to}   brownout ${ms(u.brownoutNs)}   blackout ${ms(u.blackoutNs)} (device emulation ${ms(u.deviceEmulationNs)})   handed over ${formatBytes(u.handoverBytes)}`,
    );
    const { rows, columnNs } = ganttRows(u.timeline);
    const figures = new Map(u.drivers.map((d) => [d.name, d]));
    const table = textTable(
      rows.map(([label, bar]) => {
        const d = figures.get(label);
        return [
          label,
          `|${bar}|`,
          d === undefined
            ? ""
            : `brownout ${ms(d.brownoutNs)}  blackout ${ms(d.blackoutNs)}  ${d.objects} obj  ${formatBytes(d.bytes)}`,
        ];
      }),
    );
    lines.push(...table.map((l) => `    ${l}`));
    lines.push(
      `    (b brownout, B blackout; = hook in brownout, # hook in blackout; one column = ${ms(columnNs)})`,
      "",
    );
  });
  lines.push("  checks");
  lines.push(
    ...textTable(report.checks.map((c) => [c.ok ? "PASS" : "FAIL", c.name, c.detail])).map((l) => `    ${l}`),
  );
  lines.push("", "  memory");
  lines.push(
    ...textTable(
      report.vms.map((vm) => [
        vm.name,
        formatBytes(vm.memoryBytes),
        vm.viommu ? "vIOMMU" : "",
        `${vm.checksumAfter.slice(0, 23)}…`,
        vm.checksumAfter === vm.checksumExpected
          ? "= expected"
          : `≠ expected ${vm.checksumExpected.slice(0, 23)}…`,
      ]),
    ).map((l) => `    ${l}`),
  );
  const d = report.dma;
  lines.push(
    "",
    `  DMA descriptors: ${d.completedBrownout} in brownout, ${d.completedBlackout} in blackout, ${d.completedAfter} after; ${d.faults} faults`,
  );
  if (report.failure !== undefined) {
    const f = report.failure;
    lines.push(
      "",
      `  update failed at ${f.stage}: ${f.code}: ${f.message}`,
      f.oldKernelIntact
        ? "  the old kernel is intact and its VMs keep running"
        : "  the old kernel is NOT intact",
    );
  }
  if (files.length > 0) lines.push("", "  wrote", ...files.map((f) => `    ${f}`));
  return `${lines.join("\n")}\n`;
}
