import {
  buildProgram,
  COUNTER_RING_BUILDS,
  defineShippedBuilds,
  SHIPPED_BUILDS,
  ShippedBuildsInvalidError,
  shippedMatrix,
} from "@liveupdate/cli";
import { defineKernelBuild } from "@liveupdate/core";
import { withCatalog, withNative } from "@liveupdate/core/testkit";
import { CounterRingDriver } from "@liveupdate/example-counter-ring";
import { describe, expect, it } from "vitest";
import { captureIo } from "./helpers.js";

describe("liveupdate matrix", () => {
  it("negotiates every driver of the shipped builds; every declared update works", () => {
    const matrix = shippedMatrix();
    expect(matrix.sets.map((s) => s.name)).toEqual(SHIPPED_BUILDS.map((s) => s.name));
    expect(matrix.refusedSupported).toEqual([]);
    const ring = matrix.sets.find((s) => s.name === COUNTER_RING_BUILDS.name)!;
    expect(ring.drivers).toEqual(["counter-ring", "counter-ring-table", "luo"]);
    const cell = (from: string, to: string) =>
      ring.cells.find((c) => c.from === from && c.to === to && c.driver === "counter-ring")!;
    // v1-only → v1+v2: writes v1, the target migrates up (injective).
    expect(cell("6.17.0-cr1", "6.18.0-cr2")).toMatchObject({
      version: 1,
      runningNative: 1,
      targetNative: 2,
      writeKinds: [],
      readKinds: ["injective"],
      kind: "injective",
    });
    // Downgrade: the running build migrates down before writing.
    expect(cell("6.18.0-cr2", "6.17.0-cr1")).toMatchObject({
      version: 1,
      writeKinds: ["injective"],
      kind: "injective",
    });
    expect(cell("6.18.0-cr2", "6.19.0-cr2only")).toMatchObject({ version: 2, kind: "same" });
    // Not transitive: the outer pair has no common version, and is not declared supported.
    expect(cell("6.17.0-cr1", "6.19.0-cr2only")).toMatchObject({ kind: "refused" });
    expect(ring.pairs.find((p) => p.from === "6.17.0-cr1" && p.to === "6.19.0-cr2only")).toMatchObject({
      supported: false,
      ok: false,
      refusedBy: ["counter-ring"],
    });
  });

  it("prints the grids and the updates on a terminal, JSON with --json, and exits 0", async () => {
    const text = captureIo();
    await buildProgram(text.io).parseAsync(["matrix"], { from: "user" });
    expect(text.captured.code).toBe(0);
    expect(text.captured.out).toContain("driver counter-ring (rows: running build, columns: target build)");
    expect(text.captured.out).toMatch(/\* 6\.17\.0-cr1 -> 6\.18\.0-cr2 \(upgrade\): ok/);
    expect(text.captured.out).toMatch(
      / {2}6\.17\.0-cr1 -> 6\.19\.0-cr2only \(upgrade\): REFUSED by counter-ring/,
    );

    const json = captureIo();
    await buildProgram(json.io).parseAsync(["matrix", "--json", "--set", "counter-ring"], { from: "user" });
    const parsed = JSON.parse(json.captured.out);
    expect(parsed.sets.map((s: { name: string }) => s.name)).toEqual(["counter-ring"]);
    expect(parsed.sets[0].cells).toHaveLength(6 * 3);
  });

  it("exits non-zero when an update the builds declare supported is refused", async () => {
    const broken = defineShippedBuilds({
      name: "broken",
      description: "a v2-only reader declared able to take over from a v1-only writer",
      builds: [
        defineKernelBuild({ version: "w1", drivers: [withNative(CounterRingDriver, 1)] }),
        defineKernelBuild({
          version: "r2",
          drivers: [withCatalog(CounterRingDriver, { writes: [2], reads: [2] })],
        }),
      ],
      supported: [{ from: "w1", to: "r2" }],
    });
    const { io, captured } = captureIo();
    await buildProgram(io, { builds: [broken] }).parseAsync(["matrix"], { from: "user" });
    expect(captured.code).toBe(1);
    expect(captured.out).toContain(
      "FAIL: updates declared supported are refused:\n  broken: w1 -> r2 (counter-ring)",
    );
  });

  it("refuses an inconsistent set of builds", () => {
    const a = defineKernelBuild({ version: "a" });
    expect(() =>
      defineShippedBuilds({ name: "x", description: "", builds: [a], supported: [{ from: "a", to: "b" }] }),
    ).toThrow(ShippedBuildsInvalidError);
    expect(() => defineShippedBuilds({ name: "x", description: "", builds: [a, a], supported: [] })).toThrow(
      expect.objectContaining({ code: "CLI_SHIPPED_BUILDS_INVALID", context: { set: "x", build: "a" } }),
    );
  });
});
