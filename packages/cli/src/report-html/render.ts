import type { DemoReport } from "../demo/report.js";
import { escapeHtml, msText } from "./escape.js";
import { ganttSvg } from "./gantt-svg.js";
import { checksTable, figureTables, negotiationTable } from "./tables.js";

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d2330; }
h1 { margin: 0 0 4px; } h2 { margin: 28px 0 8px; font-size: 17px; }
.verdict { display: inline-block; padding: 2px 12px; border-radius: 4px; color: #fff; font-weight: 700; }
.verdict.PASS { background: #1e7d32; } .verdict.FAIL { background: #b3261e; }
.meta { color: #555; }
table { border-collapse: collapse; margin: 6px 0 14px; }
th, td { border: 1px solid #d5d9e0; padding: 3px 8px; text-align: left; font-variant-numeric: tabular-nums; }
th { background: #f2f4f7; } tr.fail td { background: #fdecea; } tr.pass td:first-child { color: #1e7d32; font-weight: 700; }
tr.fail td:first-child { color: #b3261e; font-weight: 700; }
td { max-width: 420px; overflow-wrap: anywhere; }
.failure { border: 2px solid #b3261e; background: #fdecea; padding: 8px 12px; border-radius: 4px; }
svg.gantt { display: block; margin: 4px 0 8px; }
svg .phase-brownout { fill: #fff4d6; } svg .phase-blackout { fill: #e4e9f7; }
svg .phase-label { font-size: 11px; fill: #555; }
svg .row-label { font-size: 12px; text-anchor: end; fill: #1d2330; }
svg .span-brownout { fill: #d39e00; } svg .span-blackout { fill: #3555c8; }
svg .span:hover { stroke: #000; stroke-width: 1; }
.legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; vertical-align: middle; }
`;

/**
 * The demo report as one self-contained HTML file (inline CSS and SVG, no script, no external
 * asset, nothing fetched): the verdict, a Gantt timeline per update (per driver and object group,
 * brownout and blackout marked, hook durations on hover), the negotiation table, the checks with
 * their figures, and the failure when an update was cancelled. Every string from the report is
 * escaped.
 *
 * @example
 * ```ts
 * writeFileSync("report.html", renderHtmlReport(runDemo().report));
 * ```
 */
export function renderHtmlReport(report: DemoReport): string {
  const updates = report.updates
    .map(
      (u, i) =>
        `<section class="update" data-update="${i + 1}"><h2>Update ${i + 1}: ${escapeHtml(u.from)} → ${escapeHtml(u.to)}</h2>` +
        `<p class="meta">brownout ${msText(u.brownoutNs)} · blackout ${msText(u.blackoutNs)} (of which device emulation ${msText(u.deviceEmulationNs)}) · ${u.handoverBytes} bytes handed over</p>` +
        ganttSvg(u, i) +
        `</section>`,
    )
    .join("");
  const failure =
    report.failure === undefined
      ? ""
      : `<div class="failure" id="failure"><strong>Update failed at ${escapeHtml(report.failure.stage)}</strong>: ` +
        `${escapeHtml(report.failure.code)}: ${escapeHtml(report.failure.message)}<br>` +
        `${report.failure.oldKernelIntact ? "The old kernel is intact and its VMs keep running." : "The old kernel is not intact."}</div>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>liveupdate demo: ${report.result}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body>
<h1>liveupdate demo <span class="verdict ${report.result}" id="verdict">${report.result}</span></h1>
<p class="meta">${escapeHtml(report.from)} → ${escapeHtml(report.to)} · seed ${report.seed} · ${report.vms.length} VMs · ${report.updates.length} update(s)</p>
${failure}
<h2>Timeline</h2>
<p class="legend">hooks in<span style="background:#d39e00"></span>brownout<span style="background:#3555c8"></span>blackout; bands: brownout (yellow), blackout (blue); hover a bar for its hook and duration</p>
${updates}
<h2>Versions negotiated (last update)</h2>
${negotiationTable(report)}
<h2>Checks</h2>
${checksTable(report)}
<h2>Figures</h2>
${figureTables(report)}
</body></html>
`;
}
