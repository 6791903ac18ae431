import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Fs, FsV1, sampleV1 } from "./fixtures/example-schema.js";
import {
  arbitraryFor,
  arrayPointer,
  caught,
  codecFor,
  formatIssues,
  InMemorySchemaMemory,
  ioTypeOf,
  pointer,
  SchemaInvalidValueError,
  struct,
  u32,
  u64,
  validate,
} from "./helpers.js";

describe("io-ts validation", () => {
  it("accepts valid values and strips unknown properties", () => {
    const v = sampleV1();
    expect(validate(FsV1, v)).toEqual(v);
    expect(validate(FsV1, { ...v, extra: 1 })).toEqual(v);
    expect(ioTypeOf(FsV1).is(v)).toBe(true);
  });

  it("reports field paths like inodes[1].extents[0].phys", () => {
    const v = structuredClone(sampleV1());
    (v.inodes[1]!.extents[0] as { phys: unknown }).phys = 5; // number instead of bigint
    const e = caught(() => validate(FsV1, v)) as SchemaInvalidValueError;
    expect(e).toBeInstanceOf(SchemaInvalidValueError);
    expect(e.code).toBe("SCHEMA_INVALID_VALUE");
    expect(e.context).toMatchObject({ driver: "fs_state", path: "inodes[1].extents[0].phys" });
    expect(e.issues[0]!.path).toBe("inodes[1].extents[0].phys");
  });

  it("reports every issue, invariant violations included", () => {
    const v = structuredClone(sampleV1());
    v.inodes[0]!.kind = 3;
    v.inodes[1]!.extents[1]!.pages = 0;
    v.label = "x".repeat(30);
    const e = caught(() => validate(FsV1, v)) as SchemaInvalidValueError;
    expect(e.issues.map((i) => i.path)).toEqual(["inodes[0].kind", "inodes[1].extents[1].pages", "label"]);
  });

  it("checks count field invariants against array lengths", () => {
    const v = structuredClone(sampleV1());
    v.inodes[1]!.extents = Array(9).fill(v.inodes[1]!.extents[0]);
    const e = caught(() => validate(FsV1, v)) as SchemaInvalidValueError;
    expect(e.issues[0]).toMatchObject({
      path: "inodes[1].extents",
      message: expect.stringContaining("nr_extents"),
    });
  });

  it("checks arrays sharing a count field have equal lengths", () => {
    const S = struct("s", {
      n: u32(),
      a: arrayPointer(u32(), { count: "n" }),
      b: arrayPointer(u64(), { count: "n" }),
    });
    expect(ioTypeOf(S).is({ a: [1], b: [1n] })).toBe(true);
    expect(ioTypeOf(S).is({ a: [1], b: [] })).toBe(false);
    expect(
      caught(() => codecFor(S).encode({ a: [1], b: [] }, new InMemorySchemaMemory())).context,
    ).toMatchObject({
      rule: "countMismatch",
      path: "b",
    });
  });

  it("does not put union member indices of nullable pointers into paths", () => {
    const S = struct("s", { p: pointer(struct("t", { x: u32({ max: 3 }) }), { nullable: true }) });
    const result = ioTypeOf(S).decode({ p: { x: 4 } });
    expect(result._tag).toBe("Left");
    if (result._tag === "Left") expect(formatIssues(result.left).map((i) => i.path)).toContain("p.x");
  });

  it("versions validate with driver and version in the context", () => {
    const e = caught(() => Fs.version(2).validate({}));
    expect(e.context).toMatchObject({ driver: "examplefs", version: 2 });
  });

  it("agrees with the encoder: io-ts accepts exactly what encodes", () => {
    // Mutate valid values field by field and compare the verdicts.
    const arb = arbitraryFor(FsV1, { maxPointeeLength: 3 }).chain((v) =>
      fc.tuple(
        fc.constant(v),
        fc.constantFrom<(x: typeof v) => unknown>(
          (x) => x,
          (x) => ({ ...x, magic: x.magic + 1 }),
          (x) => ({ ...x, label: 7 }),
          (x) => ({ ...x, inodes: x.inodes.map((i) => ({ ...i, mode: 0o10000 })) }),
          (x) => ({ ...x, inodes: x.inodes.map((i) => ({ ...i, size: -1n })) }),
          (x) => ({ ...x, inodes: x.inodes.map((i) => ({ ...i, name: "é".repeat(8) })) }),
          (x) => ({
            ...x,
            inodes: x.inodes.map((i) => ({ ...i, extents: i.extents.map((e) => ({ ...e, flags: 4 })) })),
          }),
          (x) => ({
            ...x,
            inodes: x.inodes.map((i) => ({ ...i, extents: [...i.extents, ...i.extents, ...i.extents] })),
          }),
        ),
      ),
    );
    fc.assert(
      fc.property(arb, ([v, mutate]) => {
        const candidate = mutate(v);
        let encodes = true;
        try {
          codecFor(FsV1).encode(candidate as never, new InMemorySchemaMemory());
        } catch {
          encodes = false;
        }
        expect(ioTypeOf(FsV1).is(candidate)).toBe(encodes);
      }),
      { numRuns: 150 },
    );
  });
});
