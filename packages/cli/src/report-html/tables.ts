import type { DemoReport } from "../demo/report.js";
import { escapeHtml, msText } from "./escape.js";

function table(id: string, head: readonly string[], rows: readonly (readonly string[])[]): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`).join("");
  return `<table id="${id}"><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

/** The versions table of the last update: driver, version written, version read. */
export function negotiationTable(report: DemoReport): string {
  return table(
    "negotiation",
    ["driver", "written", "read"],
    report.negotiated.map((n) => [n.name, `v${n.written}`, `v${n.read}`]),
  );
}

/** The checks with their figures; a failed check's row has class `fail`. */
export function checksTable(report: DemoReport): string {
  const rows = report.checks
    .map(
      (c) =>
        `<tr class="${c.ok ? "pass" : "fail"}" data-check="${escapeHtml(c.name)}"><td>${c.ok ? "PASS" : "FAIL"}</td>` +
        `<td>${escapeHtml(c.name)}</td><td>${escapeHtml(c.detail)}</td></tr>`,
    )
    .join("");
  return `<table id="checks"><thead><tr><th></th><th>check</th><th>figure</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Per VM its memory digests; per update and driver its time in each phase. */
export function figureTables(report: DemoReport): string {
  const vms = table(
    "vms",
    ["VM", "RAM", "devices", "vIOMMU", "checksum before", "checksum after", "checksum expected"],
    report.vms.map((vm) => [
      vm.name,
      `${vm.memoryBytes / 2 ** 30} GiB`,
      vm.devices.join(" "),
      vm.viommu ? "yes" : "",
      vm.checksumBefore,
      vm.checksumAfter,
      vm.checksumExpected,
    ]),
  );
  const d = report.dma;
  const i = report.interrupts;
  const figures = table(
    "figures",
    ["figure", "value"],
    [
      ["DMA descriptors in brownout", String(d.completedBrownout)],
      ["DMA descriptors in blackout", String(d.completedBlackout)],
      ["DMA descriptors after", String(d.completedAfter)],
      ["IOMMU faults", String(d.faults)],
      ["untranslated requests", String(d.untranslated)],
      ["interrupts raised / delivered / coalesced", `${i.raised} / ${i.delivered} / ${i.coalesced}`],
      ["interrupts pending / lost", `${i.pending} / ${i.lost}`],
      ["device resets", String(report.resets)],
      ["longest brownout", msText(report.brownoutNs)],
      ["longest blackout", msText(report.blackoutNs)],
      ["bytes handed over (last update)", String(report.handoverBytes)],
    ],
  );
  const drivers = table(
    "drivers",
    ["driver", "brownout", "blackout", "objects", "bytes"],
    report.drivers.map((x) => [
      x.name,
      msText(x.brownoutNs),
      msText(x.blackoutNs),
      String(x.objects),
      String(x.bytes),
    ]),
  );
  return `${vms}${figures}${drivers}`;
}
