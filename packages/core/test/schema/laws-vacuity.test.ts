import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  arbitraryFor,
  assertLaws,
  caught,
  checkMigratorLaws,
  DEFAULT_MIN_EXERCISED,
  generatorFor,
  MIGRATOR_LAWS,
  SchemaLawViolationError,
  struct,
  u8,
  u32,
  versionedSchema,
} from "./helpers.js";

// A v1 value, and a v2 that adds a mode, a tag and a checksum over the rest (three added fields).
const V1 = struct("sealed_v1", { x: u32({ max: 1000 }), y: u32() });
const V2 = struct("sealed_v2", {
  x: u32({ max: 1000 }),
  y: u32(),
  mode: u8({ enum: { plain: 0, fancy: 1 } }),
  tag: u32(),
  sum: u32(),
});
type V2Value = { x: number; y: number; mode: number; tag: number; sum: number };
const sumOf = (v: Omit<V2Value, "sum">) => (v.x * 31 + v.y * 7 + v.mode * 3 + v.tag) >>> 0;

/** `down` refuses a fancy mode, a tag, a wrong checksum; `lossy` drops the tag instead of refusing it. */
function sealedSchema(loseTag: boolean) {
  return versionedSchema("sealed", V1).next(V2, {
    kind: "injective",
    up: (v1) => {
      const v2 = { ...v1, mode: 0, tag: 0 };
      return { ...v2, sum: sumOf(v2) };
    },
    down: ({ mode, tag, sum, ...v1 }, ctx) => {
      if (mode !== 0) return ctx.refuse("mode", "v1 is plain");
      if (!loseTag && tag !== 0) return ctx.refuse("tag", "v1 has no tag");
      if (sum !== sumOf({ ...v1, mode, tag })) return ctx.refuse("sum", "checksum mismatch");
      return v1;
    },
  });
}

const resealed = generatorFor(V2, (values) =>
  values.map(({ sum: _s, ...v }) => ({ ...v, mode: 0, sum: sumOf({ ...v, mode: 0 }) })),
);

describe("vacuous laws", () => {
  it("a law whose precondition rarely holds fails, saying how often and what to do", () => {
    expect(DEFAULT_MIN_EXERCISED).toBe(0.2);
    const report = checkMigratorLaws(sealedSchema(false), { numRuns: 100, seed: 3 });
    const check = report.checks.find((c) => c.law === MIGRATOR_LAWS.roundTripDownWhenDefined)!;
    expect(check.ok).toBe(false);
    expect(check.vacuous).toBeGreaterThan(80);
    const [failure] = report.failures;
    expect(failure).toMatchObject({
      kind: "vacuous",
      law: MIGRATOR_LAWS.roundTripDownWhenDefined,
      version: 2,
    });
    expect(failure!.reason).toMatch(
      /^the law is vacuous: its precondition \(down\(y\) succeeds\) held for only \d+ of 100 generated values \(\d+ %; at least 20 % required\); the others: down refused (mode|tag|sum): /,
    );
    expect(failure!.reason).toContain("a generator for sealed_v2 in the `generators` option");
    const e = caught(() => assertLaws(report));
    expect(e).toBeInstanceOf(SchemaLawViolationError);
    expect(e.context).toMatchObject({ kind: "vacuous", law: MIGRATOR_LAWS.roundTripDownWhenDefined });
  });

  it("minExercised states the share (0 turns the check off)", () => {
    expect(checkMigratorLaws(sealedSchema(false), { seed: 3, minExercised: 0 }).ok).toBe(true);
    expect(checkMigratorLaws(sealedSchema(false), { seed: 3, minExercised: 1 }).ok).toBe(false);
  });

  it("a generator that reseals makes the law meaningful: passes when lawful, catches a lossy down", () => {
    const good = checkMigratorLaws(sealedSchema(false), { seed: 3, generators: [resealed] });
    expect(good.failures).toEqual([]);
    const law = good.checks.find((c) => c.law === MIGRATOR_LAWS.roundTripDownWhenDefined)!;
    expect(law.vacuous).toBeLessThan(80);
    for (let seed = 1; seed <= 10; seed++) {
      const lossy = checkMigratorLaws(sealedSchema(true), { seed, generators: [resealed] });
      expect(lossy.failures[0], `seed ${seed}`).toMatchObject({
        kind: "counterexample",
        law: MIGRATOR_LAWS.roundTripDownWhenDefined,
      });
      // The message leads with the fields the lossy down dropped, then the value it came back as.
      expect(lossy.failures[0]!.reason).toMatch(/^up\(down\(y\)\) ≠ y: tag: expected \d+, got 0.*"tag":0/);
    }
  });
});

describe("generators", () => {
  const Inner = struct("inner", { a: u8(), b: u8() });
  const Outer = struct("outer", { first: Inner, n: u32() });

  it("transform or replace a struct's values, also where it is nested", () => {
    const sorted = generatorFor(Inner, (values) =>
      values.map(({ a, b }) => ({ a: Math.min(a, b), b: Math.max(a, b) })),
    );
    fc.assert(
      fc.property(arbitraryFor(Outer, { generators: [sorted] }), (v) => {
        expect(v.first.a).toBeLessThanOrEqual(v.first.b);
      }),
    );
    const fixed = generatorFor(Outer, fc.constant({ first: { a: 1, b: 2 }, n: 3 }));
    expect(fc.sample(arbitraryFor(Outer, { generators: [fixed] }), 5)).toEqual(
      Array(5).fill({ first: { a: 1, b: 2 }, n: 3 }),
    );
  });
});
