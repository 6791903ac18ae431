import type { DemoTimeline } from "./report.js";

/** Marks of the ASCII Gantt chart. */
export const GANTT_MARKS = Object.freeze({
  brownout: "=",
  blackout: "#",
  idle: " ",
  bandBrownout: "b",
  bandBlackout: "B",
});

/**
 * An ASCII Gantt chart of one update: a band row (`b` brownout, `B` blackout), then one row per
 * driver with a mark in every column in which one of its hooks ran (`=` in brownout, `#` in
 * blackout). Columns divide the update (prepare → VMs resumed) evenly.
 *
 * @param timeline - the update's phases and spans.
 * @param width - columns (default 60).
 * @returns the rows, labels first, and the time one column stands for (ns).
 */
export function ganttRows(
  timeline: DemoTimeline,
  width = 60,
): { rows: Array<[string, string]>; columnNs: number } {
  const endNs = Math.max(
    1,
    ...timeline.phases.map((p) => p.endNs),
    ...timeline.spans.map((s) => s.startNs + s.durationNs),
  );
  const columnNs = endNs / width;
  const col = (ns: number) => Math.min(width - 1, Math.max(0, Math.floor(ns / columnNs)));
  const band: string[] = Array.from({ length: width }, () => GANTT_MARKS.idle);
  for (const p of timeline.phases) {
    for (let c = col(p.startNs); c <= col(Math.max(p.startNs, p.endNs - 1)); c++)
      band[c] = p.name === "brownout" ? GANTT_MARKS.bandBrownout : GANTT_MARKS.bandBlackout;
  }
  const rows: Array<[string, string]> = [["phase", band.join("")]];
  const drivers = [...new Set(timeline.spans.map((s) => s.driver))].sort();
  for (const driver of drivers) {
    const line: string[] = Array.from({ length: width }, () => GANTT_MARKS.idle);
    for (const s of timeline.spans) {
      if (s.driver !== driver) continue;
      const mark = s.phase === "brownout" ? GANTT_MARKS.brownout : GANTT_MARKS.blackout;
      for (let c = col(s.startNs); c <= col(s.startNs + Math.max(0, s.durationNs - 1)); c++) line[c] = mark;
    }
    rows.push([driver, line.join("")]);
  }
  return { rows, columnNs };
}
