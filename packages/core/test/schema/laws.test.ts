import { describe, expect, it } from "vitest";
import { Fs, FsV1, FsV2 } from "./fixtures/example-schema.js";
import {
  assertLaws,
  caught,
  checkMigrator,
  checkMigratorLaws,
  checkRoundTrip,
  checkSchemaLaws,
  MIGRATOR_LAWS,
  ROUND_TRIP_LAW,
  SchemaLawViolationError,
  struct,
  u8,
  u32,
  versionedSchema,
} from "./helpers.js";

describe("migrator laws", () => {
  it("hold for the example schema (injective, iso, lossy) and round trips of every version", () => {
    const report = checkSchemaLaws(Fs, { numRuns: 60, seed: 42 });
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => [c.subject, c.law])).toEqual([
      ["examplefs v1 codec", ROUND_TRIP_LAW],
      ["examplefs v2 codec", ROUND_TRIP_LAW],
      ["examplefs v3 codec", ROUND_TRIP_LAW],
      ["examplefs v4 codec", ROUND_TRIP_LAW],
      ["examplefs v1↔v2", MIGRATOR_LAWS.roundTripUp],
      ["examplefs v1↔v2", MIGRATOR_LAWS.roundTripDownWhenDefined],
      ["examplefs v2↔v3", MIGRATOR_LAWS.roundTripUp],
      ["examplefs v2↔v3", MIGRATOR_LAWS.roundTripDown],
      ["examplefs v3↔v4", MIGRATOR_LAWS.roundTripUp],
      ["examplefs v3↔v4", MIGRATOR_LAWS.downValid],
    ]);
    // The injective law is vacuous for v2 values with seals set: some generated values are refused.
    const injective = report.checks.find((c) => c.law === MIGRATOR_LAWS.roundTripDownWhenDefined)!;
    expect(injective.vacuous).toBeGreaterThan(0);
    expect(injective.vacuous).toBeLessThan(injective.numRuns);
    expect(assertLaws(report)).toBe(report);
  });

  it("checks only the requested migrators", () => {
    const report = checkMigratorLaws(Fs, { numRuns: 20, only: [2] });
    expect(new Set(report.checks.map((c) => c.subject))).toEqual(new Set(["examplefs v2↔v3"]));
  });

  const A = struct("a", { x: u32({ max: 1000 }), flag: u8({ max: 1 }) });
  const B = struct("b", { x: u32({ max: 1000 }), flag: u8({ max: 1 }), extra: u32({ max: 10 }) });

  it("catch an iso migrator that actually loses information", () => {
    const schema = versionedSchema("liar", A).next(B, {
      kind: "iso",
      up: (a) => ({ ...a, extra: 0 }),
      down: ({ extra: _e, ...a }) => a,
    });
    const report = checkMigratorLaws(schema, { numRuns: 100, seed: 1 });
    expect(report.ok).toBe(false);
    const failure = report.failures[0]!;
    expect(failure).toMatchObject({
      driver: "liar",
      subject: "liar v1↔v2",
      law: MIGRATOR_LAWS.roundTripDown,
      version: 2,
    });
    // Shrunk counterexample: the smallest v2 value that does not survive down then up.
    expect(failure.counterexample).toEqual({ x: 0, flag: 0, extra: 1 });
    expect(failure.reason).toContain("up(down(y))");
    const e = caught(() => assertLaws(report));
    expect(e).toBeInstanceOf(SchemaLawViolationError);
    expect(e.code).toBe("SCHEMA_LAW_VIOLATION");
    expect(e.context).toMatchObject({
      driver: "liar",
      migrator: "liar v1↔v2",
      law: MIGRATOR_LAWS.roundTripDown,
    });
    expect(e.context.counterexample).toEqual({ x: 0, flag: 0, extra: 1 });
    expect(typeof e.context.seed).toBe("number");
    // The same schema declared lossy is lawful.
    const honest = versionedSchema("honest", A).next(B, {
      kind: "lossy",
      up: (a) => ({ ...a, extra: 0 }),
      down: ({ extra: _e, ...a }) => a,
    });
    expect(checkMigratorLaws(honest, { numRuns: 50 }).ok).toBe(true);
  });

  it("catch a migrator whose down does not invert up", () => {
    const schema = versionedSchema("skew", A).next(B, {
      kind: "injective",
      up: (a) => ({ ...a, extra: 0 }),
      down: ({ extra: _e, ...a }) => ({ ...a, flag: 0 }),
    });
    const report = checkMigrator(schema, 1, { numRuns: 100 });
    expect(report.failures[0]).toMatchObject({
      law: MIGRATOR_LAWS.roundTripUp,
      counterexample: { x: 0, flag: 1 },
    });
  });

  it("catch an up-migrator producing invalid values and a down-migrator that throws", () => {
    const invalid = versionedSchema("inv", A).next(B, {
      kind: "lossy",
      up: (a) => ({ ...a, extra: a.x }),
      down: ({ extra: _e, ...a }) => a,
    });
    const f = checkMigratorLaws(invalid, { numRuns: 100 }).failures[0]!;
    expect(f.law).toBe(MIGRATOR_LAWS.roundTripUp);
    expect(f.reason).toContain("not a valid v2 value");
    const throwing = versionedSchema("thr", A).next(A, {
      kind: "iso",
      up: (a) => a,
      down: (b) => {
        if (b.x > 500) throw new Error("unsupported");
        return b;
      },
    });
    const failures = checkMigratorLaws(throwing, { numRuns: 100 }).failures;
    expect(failures.map((f) => f.law)).toEqual([MIGRATOR_LAWS.roundTripUp, MIGRATOR_LAWS.roundTripDown]);
    expect(failures[1]!.reason).toContain("Error: unsupported");
    expect(failures[1]!.counterexample).toEqual({ x: 501, flag: 0 });
  });

  it("catch an injective migrator whose down refuses values it could express", () => {
    const schema = versionedSchema("strict", FsV1).next(FsV2, {
      kind: "injective",
      up: (v1) => ({ ...v1, inodes: v1.inodes.map((i) => ({ ...i, seals: 0 })) }),
      down: (v2, ctx) => (v2.inodes.length > 0 ? ctx.refuse("inodes") : { ...v2, inodes: [] }),
    });
    const f = checkMigratorLaws(schema, { numRuns: 100 }).failures[0]!;
    expect(f.law).toBe(MIGRATOR_LAWS.roundTripUp);
    expect(f.reason).toContain("SchemaDowngradeRefusedError");
  });

  it("replays a failure from its seed and path", () => {
    const schema = versionedSchema("liar2", A).next(B, {
      kind: "iso",
      up: (a) => ({ ...a, extra: 0 }),
      down: ({ extra: _e, ...a }) => a,
    });
    const first = checkMigratorLaws(schema, { numRuns: 100, seed: 7 }).failures[0]!;
    const again = checkMigratorLaws(schema, {
      numRuns: 100,
      law: first.law,
      seed: first.seed,
      path: first.path,
    }).failures[0]!;
    expect(again.counterexample).toEqual(first.counterexample);
  });
});

describe("round-trip checker", () => {
  it("passes for plain structs and reports the struct as subject", () => {
    const report = checkRoundTrip(FsV1, { numRuns: 30 });
    expect(report.ok).toBe(true);
    expect(report.checks[0]!.subject).toBe("fs_state codec");
  });
});
