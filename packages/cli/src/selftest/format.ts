import { formatBytes } from "@liveupdate/core";
import type { KhoSelftestReport } from "./kho-selftest.js";

const ms = (value: number): string => `${value.toFixed(1)} ms`;

/** Renders a self-test report as the short human summary the CLI prints. */
export function formatSelftestReport(report: KhoSelftestReport): string {
  const lines = [
    `KHO self-test: PASS`,
    `  folios preserved   ${report.folios}`,
    `  bytes preserved    ${formatBytes(report.preservedBytes)}`,
    `  allocate + fill    ${ms(report.fillMs)}`,
  ];
  report.hops.forEach((hop, i) => {
    lines.push(
      `  kexec #${i + 1} → ${hop.into}`,
      `    metadata bytes   ${hop.metadataBytes} (bitmaps + chunks)`,
      `    preserve         ${ms(hop.preserveMs)}`,
      `    finalize         ${ms(hop.finalizeMs)}`,
      `    reboot           ${ms(hop.rebootMs)} (poisoned ${formatBytes(hop.poisonedBytes)})`,
      `    boot + handover  ${ms(hop.bootMs)}`,
      `    restore + verify ${ms(hop.restoreVerifyMs)}`,
    );
  });
  if (report.files.length > 0) lines.push("  wrote", ...report.files.map((f) => `    ${f}`));
  return `${lines.join("\n")}\n`;
}
