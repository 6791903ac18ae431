import type { DemoUpdateReport } from "../demo/report.js";
import { escapeHtml, msText } from "./escape.js";

const ROW_HEIGHT = 22;
const LABEL_WIDTH = 260;
const PLOT_WIDTH = 900;
const AXIS_HEIGHT = 28;

/**
 * The SVG Gantt chart of one update: one row per driver and object group (a VM's session, or
 * `flb` for shared state), the brownout and blackout as shaded bands, one bar per hook
 * invocation with the hook, driver, group and duration in its tooltip (`<title>`). Bars carry
 * `data-driver`, `data-group`, `data-phase` and `data-hook`; rows `data-row`.
 */
export function ganttSvg(update: DemoUpdateReport, index: number): string {
  const { phases, spans } = update.timeline;
  const rows = [...new Set(spans.map((s) => `${s.driver}\u0000${s.group}`))].sort();
  const endNs = Math.max(1, ...phases.map((p) => p.endNs), ...spans.map((s) => s.startNs + s.durationNs));
  const x = (ns: number) => LABEL_WIDTH + (Math.max(0, ns) / endNs) * PLOT_WIDTH;
  const height = AXIS_HEIGHT + rows.length * ROW_HEIGHT + 8;
  const parts: string[] = [];
  for (const p of phases) {
    parts.push(
      `<rect class="phase phase-${p.name}" data-phase="${p.name}" x="${x(p.startNs).toFixed(2)}" y="${AXIS_HEIGHT - 6}" ` +
        `width="${Math.max(1, x(p.endNs) - x(p.startNs)).toFixed(2)}" height="${height - AXIS_HEIGHT}">` +
        `<title>${p.name}: ${msText(p.endNs - p.startNs)}</title></rect>`,
      `<text class="phase-label" x="${(x(p.startNs) + 4).toFixed(2)}" y="${AXIS_HEIGHT - 10}">${p.name} ${msText(p.endNs - p.startNs)}</text>`,
    );
  }
  rows.forEach((row, r) => {
    const [driver, group] = row.split("\u0000") as [string, string];
    const y = AXIS_HEIGHT + r * ROW_HEIGHT;
    parts.push(
      `<g class="row" data-row="${escapeHtml(driver)} ${escapeHtml(group)}">`,
      `<text class="row-label" x="${LABEL_WIDTH - 8}" y="${y + 15}">${escapeHtml(driver)} · ${escapeHtml(group)}</text>`,
    );
    for (const s of spans) {
      if (s.driver !== driver || s.group !== group) continue;
      parts.push(
        `<rect class="span span-${s.phase}" data-driver="${escapeHtml(s.driver)}" data-group="${escapeHtml(s.group)}" ` +
          `data-phase="${s.phase}" data-hook="${escapeHtml(s.hook)}" x="${x(s.startNs).toFixed(2)}" y="${y + 4}" ` +
          `width="${Math.max(1.5, x(s.startNs + s.durationNs) - x(s.startNs)).toFixed(2)}" height="${ROW_HEIGHT - 8}">` +
          `<title>${escapeHtml(s.hook)} · ${escapeHtml(s.driver)} · ${escapeHtml(s.group)}: ${msText(s.durationNs)} at +${msText(s.startNs)}</title></rect>`,
      );
    }
    parts.push("</g>");
  });
  return (
    `<svg class="gantt" id="gantt-${index}" role="img" aria-label="timeline of update ${index + 1}" ` +
    `xmlns="http://www.w3.org/2000/svg" width="${LABEL_WIDTH + PLOT_WIDTH + 20}" height="${height}">${parts.join("")}</svg>`
  );
}
