import { describe, expect, it } from "vitest";
import {
  compareSchemaDumps,
  describeSchema,
  formatDumpComparison,
  formatSchemaDump,
  invariantsSubset,
  parseSchemaDump,
  type SchemaDump,
  SchemaDumpInvalidError,
} from "../../src/schema/dump/index.js";
import {
  type AnyStruct,
  array,
  bool,
  chars,
  pointer,
  reserved,
  struct,
  u8,
  u16,
  u32,
  u64,
  versionedSchema,
} from "../../src/schema/index.js";

// The static checker works on dumps only; a tiny helper builds a dump from structs.
function dumpOf(
  driver: string,
  versions: AnyStruct[],
  kinds: ("iso" | "injective" | "lossy")[] = [],
): SchemaDump {
  let schema = versionedSchema(driver, versions[0]!) as unknown as {
    next: (s: AnyStruct, m: unknown) => unknown;
  };
  versions.slice(1).forEach((s, i) => {
    schema = schema.next(s, {
      kind: kinds[i] ?? "iso",
      up: (x: unknown) => x,
      down: (x: unknown) => x,
    }) as typeof schema;
  });
  // Through the committed-file path, as the checker is used in CI.
  return parseSchemaDump(
    formatSchemaDump(describeSchema(schema as unknown as Parameters<typeof describeSchema>[0])),
  );
}

const Queue = struct("q", { desc: u64(), head: u16(), tail: u16(), enabled: bool() });
const V1 = struct("st", {
  id: u32(),
  kind: u8({ enum: { a: 1, b: 2 } }),
  _r: reserved(3),
  name: chars(16),
  queues: array(Queue, 2),
});
const V2 = struct("st", {
  id: u32(),
  kind: u8({ enum: { a: 1, b: 2 } }),
  _r: reserved(3),
  name: chars(16),
  queues: array(Queue, 2),
  n: u32({ max: 64 }),
});
const released = dumpOf("dev", [V1, V2], ["injective"]);

function versionOf(report: ReturnType<typeof compareSchemaDumps>, v: number) {
  return report.versions.find((x) => x.version === v)!;
}

describe("static checker (two releases of a driver)", () => {
  it("finds nothing between identical releases", () => {
    const r = compareSchemaDumps(released, dumpOf("dev", [V1, V2], ["injective"]));
    expect(r.breaking).toBe(false);
    expect(r.versions.map((v) => v.status)).toEqual(["unchanged", "unchanged"]);
    expect(r.migrators).toEqual([]);
    expect(formatDumpComparison(r)).toContain("no released version broken");
  });

  it("accepts a new version and reports that old kernels cannot read it", () => {
    const V3 = struct("st", { id: u64(), name: chars(32) });
    const r = compareSchemaDumps(released, dumpOf("dev", [V1, V2, V3], ["injective", "lossy"]));
    expect(r.breaking).toBe(false);
    expect(versionOf(r, 3)).toMatchObject({
      status: "added",
      released: false,
      oldReadsNew: "incompatible",
      breaking: false,
    });
    expect(r.migrators).toEqual([{ from: 2, to: 3, old: undefined, new: "lossy" }]);
  });

  it("flags a field added to a released version in reserved bytes: old kernels may refuse, new ones read old data", () => {
    const V2b = struct("st", {
      id: u32(),
      kind: u8({ enum: { a: 1, b: 2 } }),
      flags: u8({ mask: 0x3 }),
      _r: reserved(2),
      name: chars(16),
      queues: array(Queue, 2),
      n: u32({ max: 64 }),
    });
    const r = compareSchemaDumps(released, dumpOf("dev", [V1, V2b], ["injective"]));
    const v2 = versionOf(r, 2);
    expect(r.breaking).toBe(true);
    expect(v2).toMatchObject({
      status: "changed",
      breaking: true,
      oldReadsNew: "may-refuse",
      newReadsOld: "compatible",
    });
    expect(v2.changes).toEqual([
      expect.objectContaining({
        kind: "field-added",
        path: "flags",
        oldReadsNew: "may-refuse",
        newReadsOld: "compatible",
      }),
    ]);
    expect(versionOf(r, 1).status).toBe("unchanged");
    const text = formatDumpComparison(r);
    expect(text).toContain("dev-v2: changed, BREAKING (old<-new: may-refuse, new<-old: compatible)");
    expect(text).toContain("field-added: flags (u8) added at offset 5 in formerly reserved/padding bytes");
  });

  it("a reserved-bytes field whose zero is invalid makes old data unreadable", () => {
    const V2c = struct("st", {
      id: u32(),
      kind: u8({ enum: { a: 1, b: 2 } }),
      level: u8({ min: 1 }),
      _r: reserved(2),
      name: chars(16),
      queues: array(Queue, 2),
      n: u32({ max: 64 }),
    });
    const r = compareSchemaDumps(released, dumpOf("dev", [V1, V2c]));
    expect(versionOf(r, 2).changes[0]).toMatchObject({ kind: "field-added", newReadsOld: "incompatible" });
  });

  it("flags moved, resized and retyped fields as incompatible both ways", () => {
    const V2d = struct("st", {
      kind: u8({ enum: { a: 1, b: 2 } }),
      _r: reserved(3),
      id: u32(),
      name: chars(24),
      queues: array(Queue, 2),
      n: u16({ max: 64 }),
    });
    const r = compareSchemaDumps(released, dumpOf("dev", [V1, V2d]));
    const kinds = versionOf(r, 2).changes.map((c) => `${c.kind}:${c.path}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        "struct-resized:",
        "field-moved:id",
        "field-moved:kind",
        "field-resized:name",
        "field-moved:queues",
        "field-retyped:n",
      ]),
    );
    expect(versionOf(r, 2)).toMatchObject({
      oldReadsNew: "incompatible",
      newReadsOld: "incompatible",
      breaking: true,
    });
  });

  it("reports widened and narrowed invariants per direction", () => {
    const wide = struct("st", {
      id: u32(),
      kind: u8({ enum: { a: 1, b: 2, c: 3 } }),
      _r: reserved(3),
      name: chars(16),
      queues: array(Queue, 2),
      n: u32({ max: 128 }),
    });
    const r = compareSchemaDumps(released, dumpOf("dev", [V1, wide]));
    const changes = versionOf(r, 2).changes;
    expect(changes).toEqual([
      expect.objectContaining({
        kind: "invariants-changed",
        path: "kind",
        oldReadsNew: "may-refuse",
        newReadsOld: "compatible",
      }),
      expect.objectContaining({
        kind: "invariants-changed",
        path: "n",
        oldReadsNew: "may-refuse",
        newReadsOld: "compatible",
      }),
    ]);
    expect(changes[1]!.detail).toContain("widened");
    // The other way round, the same change narrows.
    const back = compareSchemaDumps(dumpOf("dev", [V1, wide]), released);
    expect(versionOf(back, 2).changes.map((c) => [c.oldReadsNew, c.newReadsOld])).toEqual([
      ["compatible", "may-refuse"],
      ["compatible", "may-refuse"],
    ]);
  });

  it("treats a rename as wire-compatible and reports nested struct changes with their path", () => {
    const Queue2 = struct("q", { desc: u64(), head: u16(), tail: u16(), on: bool(), prio: u8({ max: 7 }) });
    const V2e = struct("st", {
      id: u32(),
      kind: u8({ enum: { a: 1, b: 2 } }),
      _r: reserved(3),
      name: chars(16),
      queues: array(Queue2, 2),
      n: u32({ max: 64 }),
    });
    const r = compareSchemaDumps(released, dumpOf("dev", [V1, V2e]));
    const v2 = versionOf(r, 2);
    expect(v2.changes).toEqual([
      expect.objectContaining({
        kind: "field-renamed",
        path: "queues[*].on",
        oldReadsNew: "compatible",
        newReadsOld: "compatible",
      }),
      expect.objectContaining({
        kind: "field-added",
        path: "queues[*].prio",
        oldReadsNew: "may-refuse",
        newReadsOld: "compatible",
      }),
    ]);
  });

  it("reports a removed released version as breaking and pointer changes", () => {
    const Node = struct("node", { v: u32() });
    const A = struct("p", { head: pointer(Node, { nullable: true }) });
    const B = struct("p", { head: pointer(Node) });
    const r = compareSchemaDumps(dumpOf("ptr", [A, A]), dumpOf("ptr", [B]));
    expect(versionOf(r, 1).changes).toEqual([
      expect.objectContaining({
        kind: "pointer-changed",
        path: "head",
        oldReadsNew: "compatible",
        newReadsOld: "may-refuse",
      }),
    ]);
    expect(versionOf(r, 2)).toMatchObject({ status: "removed", breaking: true, newReadsOld: "incompatible" });
    expect(r.migrators).toEqual([{ from: 1, to: 2, old: "iso", new: undefined }]);
    expect(() => compareSchemaDumps(dumpOf("ptr", [A]), dumpOf("other", [A]))).toThrow(
      SchemaDumpInvalidError,
    );
  });

  it("decides invariant subsets exactly for enums and small ranges, conservatively otherwise", () => {
    expect(invariantsSubset({ enum: [{ value: "1" }, { value: "2" }] }, { min: "1", max: "5" }, "u8")).toBe(
      true,
    );
    expect(invariantsSubset({ min: "1", max: "5" }, { enum: [{ value: "1" }, { value: "2" }] }, "u8")).toBe(
      false,
    );
    expect(invariantsSubset({ mask: "3" }, { max: "3" }, "u32")).toBe(true);
    expect(invariantsSubset({ max: "7" }, { mask: "15" }, "u64")).toBe(true);
    expect(invariantsSubset({ max: "100000" }, { mask: "65535" }, "u64")).toBe(false);
    expect(invariantsSubset(undefined, { max: "255" }, "u8")).toBe(true);
    expect(invariantsSubset({ mustBeZero: true }, { min: "1" }, "u32")).toBe(false);
    expect(invariantsSubset({ min: "-5", max: "5" }, { min: "-10" }, "i64")).toBe(true);
  });
});
