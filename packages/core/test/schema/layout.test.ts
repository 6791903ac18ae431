import { describe, expect, it } from "vitest";
import {
  array,
  arrayPointer,
  bool,
  canonicalJson,
  chars,
  type FieldType,
  i16,
  layoutHash,
  layoutOf,
  placeStruct,
  pointer,
  reserved,
  SchemaDeclarationError,
  struct,
  u8,
  u16,
  u32,
  u64,
} from "../../src/schema/index.js";
import { Fs } from "./fixtures/example-schema.js";

describe("layout", () => {
  it("places fields with C natural alignment and makes implicit padding explicit", () => {
    const S = struct("s", { a: u8(), b: u32(), c: u16(), d: u64(), e: bool() });
    const p = placeStruct(S);
    expect(p.fields.map((f) => [f.name, f.offset, f.size])).toEqual([
      ["a", 0, 1],
      ["__pad1", 1, 3],
      ["b", 4, 4],
      ["c", 8, 2],
      ["__pad10", 10, 6],
      ["d", 16, 8],
      ["e", 24, 1],
      ["__pad25", 25, 7],
    ]);
    expect(p.size).toBe(32);
    expect(p.align).toBe(8);
  });

  it("packs packed structs", () => {
    const S = struct("s", { a: u8(), b: u32(), c: u64() }, { packed: true });
    expect(placeStruct(S)).toMatchObject({ size: 13, align: 1 });
  });

  it("aligns nested structs and arrays by their element alignment", () => {
    const Inner = struct("inner", { x: u16(), y: u8() }); // size 4, align 2
    const Outer = struct("outer", { a: u8(), inner: Inner, b: array(Inner, 3), p: pointer(Inner) });
    const layout = layoutOf(Outer);
    const outer = layout.structs[0]!;
    expect(outer.fields.map((f) => [f.name, f.offset])).toEqual([
      ["a", 0],
      ["__pad1", 1],
      ["inner", 2],
      ["b", 6],
      ["__pad18", 18],
      ["p", 24],
    ]);
    expect(layout.size).toBe(32);
    expect(layout.structs.map((s) => s.name)).toEqual(["outer", "inner"]);
  });

  it("describes every byte, derived count fields and pointee structs", () => {
    const layout = layoutOf(Fs.version(1).struct);
    expect(layout.format).toBe("liveupdate.schema.layout/1");
    expect(layout.structs.map((s) => s.name)).toEqual(["fs_state", "fs_inode", "fs_extent"]);
    for (const s of layout.structs) {
      let at = 0;
      for (const f of s.fields) {
        expect(f.offset).toBe(at);
        at += f.size;
      }
      expect(at).toBe(s.size);
    }
    const inode = layout.structs[1]!;
    expect(inode.fields.find((f) => f.name === "nr_extents")).toEqual({
      name: "nr_extents",
      offset: 32,
      size: 4,
      align: 4,
      type: { kind: "scalar", scalar: "u32", invariants: { max: "8" } },
      derived: { role: "count", of: ["extents"] },
    });
    expect(inode.fields.find((f) => f.name === "extents")?.type).toEqual({
      kind: "arrayPointer",
      count: "nr_extents",
      element: { kind: "struct", name: "fs_extent" },
      elementSize: 16,
      elementAlign: 8,
    });
    const kind = inode.fields.find((f) => f.name === "kind")!.type;
    expect(kind).toEqual({
      kind: "scalar",
      scalar: "u8",
      invariants: {
        enum: [
          { name: "file", value: "1" },
          { name: "dir", value: "2" },
        ],
      },
    });
    // JSON-serialisable and stable.
    expect(JSON.parse(JSON.stringify(layout))).toEqual(layout);
    expect(Object.isFrozen(layout.structs[0]!.fields[0])).toBe(true);
  });

  it("handles recursive declarations", () => {
    type N = { v: number; next: N | null };
    const Node: import("../../src/schema/index.js").StructOf<N> = struct("node", {
      v: u32(),
      _r: reserved(4),
      next: pointer((): typeof Node => Node, { nullable: true }),
    });
    const layout = layoutOf(Node);
    expect(layout.structs).toHaveLength(1);
    expect(layout.structs[0]!.fields[2]!.type).toMatchObject({
      kind: "pointer",
      target: { kind: "struct", name: "node" },
    });
  });

  it("refuses two different structs with the same name in one schema", () => {
    const A1 = struct("a", { x: u32() });
    const A2 = struct("a", { x: u64() });
    const Root = struct("root", { p: pointer(A1), q: pointer(A2) });
    expect(() => layoutOf(Root)).toThrow(SchemaDeclarationError);
    // Identical re-declarations are fine.
    const A3 = struct("a", { x: u32() });
    expect(() => layoutOf(struct("root2", { p: pointer(A1), q: pointer(A3) }))).not.toThrow();
  });
});

describe("layout hash", () => {
  type Parts = {
    name?: string;
    a?: FieldType;
    b?: FieldType;
    bName?: string;
    r?: number;
    element?: ReturnType<typeof struct>;
    packed?: boolean;
    swap?: boolean;
  };
  const build = (o: Parts = {}) => {
    const a = o.a ?? u32({ max: 10 });
    const b = o.b ?? u16();
    const fields: Record<string, FieldType> = o.swap
      ? { [o.bName ?? "b"]: b, a }
      : { a, [o.bName ?? "b"]: b };
    Object.assign(fields, {
      _r: reserved(o.r ?? 2),
      n: u32(),
      xs: arrayPointer(o.element ?? struct("e", { v: u64() }), { count: "n" }),
    });
    return struct(o.name ?? "s", fields, { packed: o.packed ?? false });
  };
  const base = () => build();

  it("is a stable sha256 hex string, pinned for a known declaration", () => {
    const h = layoutHash(base());
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(layoutHash(base())).toBe(h);
    // Pinned: if this changes, the canonical layout format changed and every lock file breaks.
    expect(h).toBe(PINNED);
  });

  it("does not depend on property insertion order of options", () => {
    const a = struct("s", { x: u32({ min: 1, max: 9 }) });
    const b = struct("s", { x: u32({ max: 9, min: 1 }) });
    expect(layoutHash(a)).toBe(layoutHash(b));
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: null } })).toBe('{"a":{"c":null,"d":[1,2]},"b":1}');
  });

  const variants: [string, Parts][] = [
    ["field order", { swap: true }],
    ["field type", { b: chars(2) }],
    ["field size", { r: 6 }],
    ["invariant", { a: u32({ max: 11 }) }],
    ["signedness", { b: i16() }],
    ["pointee layout", { element: struct("e", { v: u32(), w: u32() }) }],
    ["pointee invariant", { element: struct("e", { v: u64({ mask: 1n }) }) }],
    ["field name", { bName: "c" }],
    ["struct name", { name: "t" }],
    ["packing", { packed: true }],
  ];
  it.each(variants)("changes when the %s changes", (_what, parts) => {
    expect(layoutHash(build(parts))).not.toBe(layoutHash(base()));
  });

  it("differs between the versions of the example schema", () => {
    const hashes = Fs.versions.map((v) => v.hash);
    expect(new Set(hashes).size).toBe(hashes.length);
  });
});

const PINNED = "451a7c80b75caf592f71c8e44492aab91002090e660f64f162a9dba1726dfc5a";
