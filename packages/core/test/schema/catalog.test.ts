import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LiveUpdateError } from "../../src/common/errors.js";
import {
  CatalogInvalidError,
  catalogEntryFromSchema,
  compatibilityMatrix,
  defineCatalog,
  defineCatalogEntry,
  formatCompatibilityMatrix,
  type KernelBuildCatalog,
  matrixCell,
  migrationPath,
  NegotiationDriverMissingError,
  NegotiationError,
  NegotiationLossyRefusedError,
  NegotiationNoCommonVersionError,
  negotiate,
  planNegotiation,
  validateKernelBuildCatalog,
} from "../../src/schema/catalog/index.js";
import { DeviceSchema } from "./fixtures/cheader-schema.js";

// memfd: v1 -> v2 adds seals (injective), v2 -> v3 iso.
const MEMFD = { 1: "injective", 2: "iso" } as const;

function build(version: string, ...entries: Parameters<typeof defineCatalog>[0]): KernelBuildCatalog {
  return { version, catalog: defineCatalog(entries) };
}

describe("catalog entries", () => {
  it("normalizes versions and migrators", () => {
    const e = defineCatalogEntry({
      driver: "memfd",
      native: 2,
      writes: [2, 1, 2],
      reads: [1, 2],
      migrators: MEMFD,
    });
    expect(e.writes).toEqual([1, 2]);
    expect(e.migrators).toEqual([
      { from: 1, to: 2, kind: "injective" },
      { from: 2, to: 3, kind: "iso" },
    ]);
    expect(migrationPath(e, 2, 1)).toEqual([{ from: 2, to: 1, direction: "down", kind: "injective" }]);
    expect(migrationPath(e, 1, 3)).toEqual([
      { from: 1, to: 2, direction: "up", kind: "injective" },
      { from: 2, to: 3, direction: "up", kind: "iso" },
    ]);
    expect(migrationPath(e, 2, 2)).toEqual([]);
  });

  it("rejects native not writable/readable, unreachable versions, bad links and duplicates", () => {
    const bad = [
      () =>
        defineCatalogEntry({ driver: "m", native: 3, writes: [1, 2], reads: [1, 2, 3], migrators: MEMFD }),
      () =>
        defineCatalogEntry({ driver: "m", native: 2, writes: [1, 2], reads: [2], migrators: { 2: "iso" } }),
      () => defineCatalogEntry({ driver: "m", native: 1, writes: [0, 1], reads: [1] }),
      () =>
        defineCatalogEntry({
          driver: "m",
          native: 1,
          writes: [1],
          reads: [1],
          migrators: [{ from: 1, to: 3, kind: "iso" }],
        }),
      () =>
        defineCatalogEntry({
          driver: "m",
          native: 1,
          writes: [1],
          reads: [1],
          migrators: [
            { from: 1, to: 2, kind: "iso" },
            { from: 1, to: 2, kind: "lossy" },
          ],
        }),
      () =>
        defineCatalog([
          { driver: "m", native: 1, writes: [1], reads: [1] },
          { driver: "m", native: 1, writes: [1], reads: [1] },
        ]),
      () =>
        validateKernelBuildCatalog({
          version: "x",
          catalog: { a: { driver: "b", native: 1, writes: [1], reads: [1], migrators: [] } },
        }),
    ];
    for (const f of bad) {
      expect(f).toThrow(CatalogInvalidError);
      try {
        f();
      } catch (e) {
        expect((e as CatalogInvalidError).code).toBe("CATALOG_INVALID");
        expect(e).toBeInstanceOf(LiveUpdateError);
      }
    }
  });

  it("round-trips a kernel build through JSON", () => {
    const b = build("6.16", { driver: "memfd", native: 2, writes: [1, 2], reads: [1, 2], migrators: MEMFD });
    expect(validateKernelBuildCatalog(JSON.parse(JSON.stringify(b)) as KernelBuildCatalog)).toEqual(b);
  });
});

describe("negotiation", () => {
  const old = build("6.16-lu1", { driver: "memfd", native: 1, writes: [1], reads: [1], migrators: {} });
  const cur = build(
    "6.16-lu2",
    { driver: "memfd", native: 2, writes: [1, 2], reads: [1, 2], migrators: MEMFD },
    { driver: "iommufd", native: 1, writes: [1], reads: [1] },
  );

  it("picks the highest version the running build writes and the target reads", () => {
    const up = negotiate(old, cur);
    expect(up.drivers).toHaveLength(1);
    expect(up.drivers[0]).toMatchObject({
      driver: "memfd",
      version: 1,
      compatible: "memfd-v1",
      writePath: [],
      readPath: [{ from: 1, to: 2, direction: "up", kind: "injective" }],
      lossy: false,
      mayRefuse: false,
    });
    expect(up.newInTarget).toEqual(["iommufd"]);

    const down = negotiate(cur, old, { drivers: ["memfd"] });
    expect(down.drivers[0]).toMatchObject({
      version: 1,
      writePath: [{ from: 2, to: 1, direction: "down", kind: "injective" }],
      readPath: [],
      mayRefuse: true,
    });

    const same = negotiate(cur, cur);
    expect(same.drivers.map((d) => [d.driver, d.version, d.writePath.length, d.readPath.length])).toEqual([
      ["iommufd", 1, 0, 0],
      ["memfd", 2, 0, 0],
    ]);
  });

  it("refuses with NEGOTIATION_NO_COMMON_VERSION naming driver and both version sets", () => {
    const newer = build("7.0", {
      driver: "memfd",
      native: 3,
      writes: [2, 3],
      reads: [2, 3],
      migrators: MEMFD,
    });
    let err: unknown;
    try {
      negotiate(old, newer);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NegotiationNoCommonVersionError);
    expect(err).toBeInstanceOf(NegotiationError);
    const e = err as NegotiationNoCommonVersionError;
    expect(e.code).toBe("NEGOTIATION_NO_COMMON_VERSION");
    expect(e.context).toMatchObject({
      driver: "memfd",
      runningBuild: "6.16-lu1",
      targetBuild: "7.0",
      writable: [1],
      readable: [2, 3],
    });
    expect(e.message).toContain("memfd");
  });

  it("refuses a lossy-only path unless the policy allows it for that driver", () => {
    const a = build("a", {
      driver: "vfio",
      native: 2,
      writes: [1, 2],
      reads: [1, 2],
      migrators: { 1: "lossy" },
    });
    const b = build("b", { driver: "vfio", native: 1, writes: [1], reads: [1], migrators: {} });
    expect(() => negotiate(a, b)).toThrow(NegotiationLossyRefusedError);
    try {
      negotiate(a, b, { policy: { allowLossy: ["memfd"] } });
    } catch (e) {
      const err = e as NegotiationLossyRefusedError;
      expect(err.code).toBe("NEGOTIATION_LOSSY_REFUSED");
      expect(err.context).toMatchObject({ driver: "vfio", writable: [1, 2], readable: [1] });
      expect(err.context["refusedLossy"]).toEqual([
        { version: 1, lossySteps: [{ from: 2, to: 1, direction: "down", kind: "lossy" }] },
      ]);
    }
    const ok = negotiate(a, b, { policy: { allowLossy: ["vfio"] } });
    expect(ok.drivers[0]).toMatchObject({ version: 1, lossy: true });
    expect(negotiate(a, b, { policy: { allowLossy: true } }).drivers[0]!.lossy).toBe(true);
    // Upgrading across a lossy pair is fine: only the down direction discards.
    expect(negotiate(b, a).drivers[0]).toMatchObject({ version: 1, lossy: false });
  });

  it("passes over a lossy higher version for a lossless lower one", () => {
    // Target reads v1..v3 natively at v1 (reads v3 by migrating down); running writes v1 and v3.
    const running = build("r", {
      driver: "d",
      native: 3,
      writes: [1, 3],
      reads: [3],
      migrators: { 1: "iso", 2: "iso" },
    });
    const target = build("t", {
      driver: "d",
      native: 1,
      writes: [1],
      reads: [1, 3],
      migrators: { 1: "iso", 2: "lossy" },
    });
    const res = negotiate(running, target).drivers[0]!;
    expect(res.version).toBe(1);
    expect(res.skippedLossy).toEqual([3]);
    expect(res.writePath.map((s) => s.kind)).toEqual(["iso", "iso"]);
    const lossy = negotiate(running, target, { policy: { allowLossy: true } }).drivers[0]!;
    expect(lossy).toMatchObject({
      version: 3,
      lossy: true,
      readPath: [{ direction: "down", kind: "lossy" }, { kind: "iso" }],
    });
  });

  it("judges read-path lossy steps with the target's policy and write-path ones with the running build's", () => {
    // Running writes v2 (native v2); target reads v2 by migrating down to its native v1 (lossy).
    const running = build("r", {
      driver: "d",
      native: 2,
      writes: [2],
      reads: [2],
      migrators: { 1: "lossy" },
    });
    const target = build("t", {
      driver: "d",
      native: 1,
      writes: [1],
      reads: [1, 2],
      migrators: { 1: "lossy" },
    });
    expect(() => negotiate(running, target, { policy: { allowLossy: true }, targetPolicy: {} })).toThrow(
      NegotiationLossyRefusedError,
    );
    const ok = negotiate(running, target, { policy: {}, targetPolicy: { allowLossy: ["d"] } }).drivers[0]!;
    expect(ok).toMatchObject({ version: 2, lossy: true, readLossy: true, writeLossy: false });
    // Write path: running native v2 writes v1 for a target reading only v1.
    const old = build("o", { driver: "d", native: 1, writes: [1], reads: [1], migrators: { 1: "lossy" } });
    const down = build("w", {
      driver: "d",
      native: 2,
      writes: [1, 2],
      reads: [2],
      migrators: { 1: "lossy" },
    });
    expect(() => negotiate(down, old, { policy: {}, targetPolicy: { allowLossy: true } })).toThrow(
      NegotiationLossyRefusedError,
    );
    expect(negotiate(down, old, { policy: { allowLossy: true }, targetPolicy: {} }).drivers[0]).toMatchObject(
      {
        version: 1,
        writeLossy: true,
        readLossy: false,
      },
    );
  });

  it("reports a driver missing in the target, and one the caller names that the running build lacks", () => {
    expect(() => negotiate(cur, old)).toThrow(NegotiationDriverMissingError);
    try {
      negotiate(cur, old);
    } catch (e) {
      expect((e as NegotiationError).context).toMatchObject({
        driver: "iommufd",
        writable: [1],
        readable: [],
        missingIn: "target",
      });
    }
    const plan = planNegotiation(old, cur, { drivers: ["memfd", "vfio"] });
    expect(plan.ok).toBe(false);
    expect(plan.drivers.find((d) => d.driver === "vfio")).toMatchObject({
      status: "impossible",
      code: "NEGOTIATION_DRIVER_MISSING",
      missingIn: "running",
    });
  });

  it("lists every failing driver in the error context", () => {
    const x = build(
      "x",
      { driver: "a", native: 1, writes: [1], reads: [1] },
      { driver: "b", native: 1, writes: [1], reads: [1] },
    );
    const y = build("y", { driver: "b", native: 2, writes: [2], reads: [2], migrators: { 1: "iso" } });
    try {
      negotiate(x, y);
      expect.unreachable();
    } catch (e) {
      const err = e as NegotiationError;
      expect(err.code).toBe("NEGOTIATION_DRIVER_MISSING");
      expect(err.context.driver).toBe("a");
      expect(err.context["failures"]).toEqual([
        expect.objectContaining({ driver: "a", code: "NEGOTIATION_DRIVER_MISSING" }),
        expect.objectContaining({ driver: "b", code: "NEGOTIATION_NO_COMMON_VERSION" }),
      ]);
    }
  });
});

describe("compatibility matrix", () => {
  // A writes only v1; B is the bridge (reads/writes v1, v2); C dropped v1 reading.
  const A = build("A", { driver: "memfd", native: 1, writes: [1], reads: [1] });
  const B = build("B", {
    driver: "memfd",
    native: 2,
    writes: [1, 2],
    reads: [1, 2],
    migrators: { 1: "injective" },
  });
  const C = build(
    "C",
    { driver: "memfd", native: 3, writes: [2, 3], reads: [2, 3], migrators: { 1: "injective", 2: "iso" } },
    { driver: "guestmemfs", native: 1, writes: [1], reads: [1] },
  );

  it("catches a non-transitive case: A->B and B->C work, A->C does not", () => {
    const m = compatibilityMatrix([A, B, C]);
    const pair = (from: string, to: string) => m.pairs.find((p) => p.from === from && p.to === to)!;
    expect(pair("A", "B").ok).toBe(true);
    expect(pair("B", "C").ok).toBe(true);
    expect(pair("A", "C")).toMatchObject({ ok: false, direction: "upgrade", failingDrivers: ["memfd"] });
    expect(matrixCell(m, "A", "C", "memfd")!.result).toMatchObject({
      status: "impossible",
      code: "NEGOTIATION_NO_COMMON_VERSION",
      writable: [1],
      readable: [2, 3],
    });
  });

  it("covers every ordered pair and driver, with chosen version and migrator kinds", () => {
    const m = compatibilityMatrix([A, B, C]);
    expect(m.builds).toEqual(["A", "B", "C"]);
    expect(m.drivers).toEqual(["guestmemfs", "memfd"]);
    expect(m.pairs).toHaveLength(6);
    expect(m.cells).toHaveLength(12);
    expect(m.pairs.map((p) => `${p.from}${p.to}:${p.direction[0]}`)).toEqual([
      "AB:u",
      "AC:u",
      "BA:d",
      "BC:u",
      "CA:d",
      "CB:d",
    ]);
    expect(matrixCell(m, "B", "C", "memfd")!.result).toMatchObject({
      status: "ok",
      version: 2,
      readPath: [{ direction: "up", kind: "iso" }],
    });
    expect(matrixCell(m, "C", "B", "memfd")!.result).toMatchObject({
      status: "ok",
      version: 2,
      writePath: [{ direction: "down", kind: "iso" }],
    });
    expect(matrixCell(m, "B", "A", "memfd")!.result).toMatchObject({
      status: "ok",
      version: 1,
      mayRefuse: true,
    });
    // guestmemfs exists only in C: new when upgrading to C, missing when downgrading from C.
    expect(matrixCell(m, "B", "C", "guestmemfs")!.result).toEqual({
      driver: "guestmemfs",
      status: "absent",
      inTarget: true,
    });
    expect(matrixCell(m, "A", "B", "guestmemfs")!.result).toEqual({
      driver: "guestmemfs",
      status: "absent",
      inTarget: false,
    });
    expect(matrixCell(m, "C", "B", "guestmemfs")!.result).toMatchObject({
      status: "impossible",
      code: "NEGOTIATION_DRIVER_MISSING",
      missingIn: "target",
    });
    expect(matrixCell(m, "A", "A", "memfd")).toBeUndefined();
  });

  it("prints a readable table", () => {
    const text = formatCompatibilityMatrix(compatibilityMatrix([A, B, C]));
    expect(text).toContain("driver memfd");
    expect(text).toMatch(/^A +\| = +\| v1 r:up injective +\| x no common version$/m);
    expect(text).toMatch(/^C +\| x no common version +\| v2 w:down iso +\| =$/m);
    expect(text).toContain("A -> C (upgrade): IMPOSSIBLE (memfd)");
    expect(text).toContain("C -> B (downgrade): IMPOSSIBLE (guestmemfs)");
    expect(text).toContain("B -> C (upgrade): ok");
  });

  it("applies the policy and rejects duplicate build versions", () => {
    const L1 = build("L1", {
      driver: "d",
      native: 2,
      writes: [1, 2],
      reads: [1, 2],
      migrators: { 1: "lossy" },
    });
    const L0 = build("L0", { driver: "d", native: 1, writes: [1], reads: [1] });
    expect(matrixCell(compatibilityMatrix([L0, L1]), "L1", "L0", "d")!.result).toMatchObject({
      code: "NEGOTIATION_LOSSY_REFUSED",
    });
    const allowed = compatibilityMatrix([L0, L1], { policy: { allowLossy: ["d"] } });
    expect(matrixCell(allowed, "L1", "L0", "d")!.result).toMatchObject({ status: "ok", lossy: true });
    expect(formatCompatibilityMatrix(allowed)).toContain("v1 w:down lossy LOSSY");
    expect(() => compatibilityMatrix([L0, L0])).toThrow(CatalogInvalidError);
  });
});

describe("negotiation properties", () => {
  const kindArb = fc.constantFrom("iso" as const, "injective" as const, "lossy" as const);
  const entryArb = (kinds: readonly ("iso" | "injective" | "lossy")[]) =>
    fc
      .record({
        native: fc.integer({ min: 1, max: kinds.length + 1 }),
        writes: fc.subarray(Array.from({ length: kinds.length + 1 }, (_, i) => i + 1)),
        reads: fc.subarray(Array.from({ length: kinds.length + 1 }, (_, i) => i + 1)),
      })
      .map(({ native, writes, reads }) =>
        defineCatalogEntry({
          driver: "d",
          native,
          writes: [...writes, native],
          reads: [...reads, native],
          migrators: Object.fromEntries(kinds.map((k, i) => [i + 1, k])),
        }),
      );
  const scenario = fc
    .array(kindArb, { minLength: 0, maxLength: 4 })
    .chain((kinds) => fc.record({ a: entryArb(kinds), b: entryArb(kinds), allowLossy: fc.boolean() }));

  it("chooses the highest common version whose path the policy allows, or fails for the right reason", () => {
    fc.assert(
      fc.property(scenario, ({ a, b, allowLossy }) => {
        const running = { version: "a", catalog: { d: a } };
        const target = { version: "b", catalog: { d: b } };
        const plan = planNegotiation(running, target, { policy: { allowLossy } });
        const result = plan.drivers[0]!;
        const common = a.writes.filter((v) => b.reads.includes(v));
        const lossyPath = (v: number) =>
          [...migrationPath(a, a.native, v), ...migrationPath(b, v, b.native)].some(
            (s) => s.direction === "down" && s.kind === "lossy",
          );
        const allowed = common.filter((v) => allowLossy || !lossyPath(v));
        if (common.length === 0) {
          expect(result).toMatchObject({ status: "impossible", code: "NEGOTIATION_NO_COMMON_VERSION" });
        } else if (allowed.length === 0) {
          expect(result).toMatchObject({ status: "impossible", code: "NEGOTIATION_LOSSY_REFUSED" });
        } else {
          const best = Math.max(...allowed);
          expect(result).toMatchObject({ status: "ok", version: best, lossy: lossyPath(best) });
          if (result.status !== "ok") return;
          expect(result.writePath).toEqual(migrationPath(a, a.native, best));
          expect(result.readPath).toEqual(migrationPath(b, best, b.native));
          expect(result.skippedLossy).toEqual(common.filter((v) => v > best).sort((x, y) => y - x));
        }
        // The matrix agrees with negotiation, and negotiate() throws exactly when the plan fails.
        const m = compatibilityMatrix([running, target], { policy: { allowLossy } });
        expect(matrixCell(m, "a", "b", "d")!.result).toEqual(result);
        if (plan.ok) expect(() => negotiate(running, target, { policy: { allowLossy } })).not.toThrow();
        else expect(() => negotiate(running, target, { policy: { allowLossy } })).toThrow(NegotiationError);
      }),
      { numRuns: 500 },
    );
  });
});

describe("catalog entries from versioned schemas", () => {
  it("takes versions and migrator kinds from the schema, with restrictions per build", () => {
    const full = catalogEntryFromSchema(DeviceSchema);
    expect(full).toEqual({
      driver: "test-dev",
      native: 2,
      writes: [1, 2],
      reads: [1, 2],
      migrators: [{ from: 1, to: 2, kind: "injective" }],
    });
    expect(catalogEntryFromSchema(DeviceSchema, { native: 1, writes: [1], reads: [1] }).native).toBe(1);
    expect(() => catalogEntryFromSchema(DeviceSchema, { reads: [1, 3] })).toThrow(CatalogInvalidError);
  });
});
