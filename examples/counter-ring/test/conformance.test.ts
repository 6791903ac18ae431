import { LiveUpdateDriver, type RestoreContext } from "@liveupdate/core";
import {
  assertDriverConformance,
  type ConformanceReport,
  DriverConformanceError,
  formatConformanceReport,
  verifyDriverConformance,
} from "@liveupdate/core/testkit";
import { describe, expect, it } from "vitest";
import {
  CounterRing,
  CounterRingDriver,
  CounterRingSchema,
  CounterRingTable,
  type CounterRingV2Value,
} from "../src/index.js";
import { ringConformance } from "./conformance-options.js";

describe("counter ring conformance", () => {
  it("passes every check of the testkit's conformance suite", () => {
    // #region conformance
    const report = assertDriverConformance(CounterRingDriver, ringConformance);
    // #endregion conformance
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ["round-trip", "passed"],
      ["migrator-laws", "passed"],
      ["update", "passed"],
      ["poison", "passed"],
      ["version-pairs", "passed"],
      ["cancel", "passed"],
      ["virtual-addresses", "passed"],
      ["corruption", "passed"],
    ]);
    // v2 → a v1 build and back: both directions crossed (value refusals are retried with other rings).
    expect(report.pairs.map((p) => [p.writer, p.reader, p.outcome, p.version])).toEqual([
      ["CounterRingDriver", "CounterRingDriver[native v1]", "restored", 1],
      ["CounterRingDriver[native v1]", "CounterRingDriver", "restored", 1],
    ]);
    // Corrupted sealed states were refused, never restored.
    const objects = report.trials.flatMap((t) => t.objects);
    const sealed = objects.filter((o) => o.expected === "value" && !o.detail.includes("preserved in place"));
    expect(sealed.length).toBeGreaterThan(0);
    expect(sealed.every((o) => o.actual !== "changed")).toBe(true);
    // Bit flips in a ring's own counter page (kept in place): its counters change, nothing crashes.
    const inPlace = report.trials.filter((t) => t.description.includes("in-place page"));
    expect(inPlace.length).toBeGreaterThan(0);
    expect(inPlace.every((t) => t.ok)).toBe(true);
    expect(report.durationMs).toBeLessThan(20_000);
  });

  it("catches a release that stops checking its seal", () => {
    // #region sloppy
    /** A later release that dropped the restore checks (a regression the suite must catch). */
    @LiveUpdateDriver({ schema: CounterRingSchema, flbs: [CounterRingTable] })
    class SloppyRingDriver extends CounterRingDriver {
      override onRestore(state: CounterRingV2Value, ctx: RestoreContext): CounterRing {
        const page = ctx.restoreFolio(Number(state.page), 0);
        const mode = state.mode === 1 ? "saturate" : "wrap";
        return new CounterRing(
          state.id,
          page,
          state.capacity,
          state.head,
          state.tail,
          mode,
          Uint8Array.from(state.flags),
        );
      }
    }
    const report: ConformanceReport = verifyDriverConformance(SloppyRingDriver, {
      ...ringConformance,
      checks: ["corruption"],
    });
    expect(report.ok).toBe(false);
    expect(formatConformanceReport(report)).toContain("✗ corruption");
    // #endregion sloppy
    const failures = report.checks.find((c) => c.name === "corruption")!.failures;
    expect(
      failures.some((f) => f.message.includes("restored silently although the driver declares integrity")),
    ).toBe(true);
    expect(() =>
      assertDriverConformance(SloppyRingDriver, { ...ringConformance, checks: ["corruption"] }),
    ).toThrow(DriverConformanceError);
  });
});
