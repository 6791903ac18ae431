import { describe, expect, expectTypeOf, it } from "vitest";
import {
  areaPointer,
  array,
  arrayPointer,
  bool,
  bytes,
  chars,
  type Infer,
  i8,
  i64,
  pointer,
  reserved,
  SchemaDeclarationError,
  type StructOf,
  struct,
  u8,
  u16,
  u32,
  u64,
} from "../../src/schema/index.js";

describe("declaration DSL", () => {
  it("infers the decoded value type, omitting reserved and derived count fields", () => {
    const Extent = struct("extent", { phys: u64(), pages: u32({ min: 1 }), flags: u32({ mask: 0x3 }) });
    const Inode = struct("inode", {
      ino: u32(),
      kind: u8({ enum: { file: 1, dir: 2 } }),
      _r0: reserved(3),
      name: chars(32),
      blob: bytes(4),
      sealed: bool(),
      regs: array(i8(), 2),
      nr_extents: u32({ max: 4096 }),
      extents: arrayPointer(Extent, { count: "nr_extents" }),
      len: u32(),
      data: areaPointer({ length: "len" }),
      parent: pointer(Extent, { nullable: true }),
      first: pointer(Extent),
      delta: i64(),
    });
    type Inode = Infer<typeof Inode>;
    expectTypeOf<Inode>().toEqualTypeOf<{
      ino: number;
      kind: number;
      name: string;
      blob: Uint8Array;
      sealed: boolean;
      regs: number[];
      extents: { phys: bigint; pages: number; flags: number }[];
      data: Uint8Array;
      parent: { phys: bigint; pages: number; flags: number } | null;
      first: { phys: bigint; pages: number; flags: number };
      delta: bigint;
    }>();
  });

  it("supports recursive declarations through annotated thunks", () => {
    interface ListNode {
      value: number;
      next: ListNode | null;
    }
    const ListNode: StructOf<ListNode> = struct("list_node", {
      value: u32(),
      _r: reserved(4),
      next: pointer((): StructOf<ListNode> => ListNode, { nullable: true }),
    });
    expectTypeOf<Infer<typeof ListNode>>().toEqualTypeOf<ListNode>();
    expect(ListNode.name).toBe("list_node");
  });

  it("freezes declarations", () => {
    const S = struct("s", { a: u32() });
    expect(Object.isFrozen(S)).toBe(true);
    expect(Object.isFrozen(S.fields)).toBe(true);
    expect(Object.isFrozen(S.fields.a.invariants)).toBe(true);
  });

  const bad: [string, () => unknown][] = [
    ["struct name not an identifier", () => struct("my-struct", { a: u32() })],
    ["C keyword field", () => struct("s", { int: u32() })],
    ["__proto__ field", () => struct("s", JSON.parse('{"__proto__": 1}'))],
    ["empty struct", () => struct("s", {})],
    ["non-descriptor field", () => struct("s", { a: 5 as never })],
    [
      "hand-made look-alike descriptor",
      () => struct("s", { a: { kind: "scalar", scalar: "u8", invariants: { mustBeZero: false } } as never }),
    ],
    ["hand-made array element", () => array({ kind: "bool" } as never, 2)],
    ["non-boolean chars option", () => chars(4, { nulTerminated: "yes" as never })],
    ["unknown count field", () => struct("s", { xs: arrayPointer(u32(), { count: "n" }) })],
    ["signed count field", () => struct("s", { n: i64(), xs: arrayPointer(u32(), { count: "n" }) })],
    ["count field not a scalar", () => struct("s", { n: bool(), xs: arrayPointer(u32(), { count: "n" }) })],
    [
      "length field shared by two areas",
      () => struct("s", { n: u32(), a: areaPointer({ length: "n" }), b: areaPointer({ length: "n" }) }),
    ],
    [
      "field both count and length",
      () => struct("s", { n: u32(), a: areaPointer({ length: "n" }), b: arrayPointer(u8(), { count: "n" }) }),
    ],
    ["min > max", () => u32({ min: 5, max: 4 })],
    ["value outside type range", () => u8({ max: 256 })],
    ["negative unsigned min", () => u16({ min: -1 })],
    ["non-integer bound", () => u32({ max: 1.5 })],
    ["bigint bound on small field", () => u32({ max: 5n as never })],
    ["number bound on u64", () => u64({ max: 5 as never })],
    ["empty enum", () => u8({ enum: [] })],
    ["enum member name not an identifier", () => u8({ enum: { "a-b": 1 } })],
    ["enum value out of range", () => u8({ enum: [300] })],
    ["negative mask", () => i8({ mask: -1 })],
    ["unsatisfiable mask and range", () => u32({ mask: 0xf0, min: 0x1, max: 0xf })],
    ["unsatisfiable mustBeZero and min", () => u32({ mustBeZero: true, min: 1 })],
    ["unsatisfiable enum and mask", () => u8({ enum: [1, 2], mask: 0x4 })],
    ["unknown option", () => u32({ maximum: 3 } as never)],
    ["zero-length chars", () => chars(0)],
    ["zero-length array", () => array(u8(), 0)],
    ["array of reserved", () => array(reserved(1) as never, 2)],
    ["huge struct", () => struct("s", { a: array(bytes(1 << 20), 2048) })],
    ["area alignment not a power of two", () => areaPointer({ length: "n", align: 3 })],
    ["pointer to reserved", () => pointer(reserved(4) as never)],
    ["pointer to a nullable pointer", () => pointer(pointer(u32(), { nullable: true }))],
    [
      "pointer to a nullable pointer via thunk",
      () => pointer(() => pointer(u32(), { nullable: true })).target(),
    ],
  ];
  it.each(bad)("refuses %s with SCHEMA_DECLARATION", (_name, declare) => {
    expect(declare).toThrow(SchemaDeclarationError);
    try {
      declare();
    } catch (e) {
      expect((e as SchemaDeclarationError).code).toBe("SCHEMA_DECLARATION");
    }
  });

  it("accepts satisfiable mask and range combinations", () => {
    expect(() => u32({ mask: 0xf0, min: 0x15, max: 0x25 })).not.toThrow(); // 0x20 satisfies
    expect(() => u64({ mask: 0xffn << 56n, min: 1n })).not.toThrow();
  });

  it("allows pointers to non-nullable pointers and arrays of nullable pointers", () => {
    expect(() => pointer(pointer(u32()), { nullable: true })).not.toThrow();
    expect(() => arrayPointer(pointer(u32(), { nullable: true }), { count: "n" }).element()).not.toThrow();
    expect(() => pointer(array(pointer(u32(), { nullable: true }), 2))).not.toThrow();
  });

  it("resolves pointer thunks lazily and checks them", () => {
    const p = pointer(() => 42 as never);
    expect(() => p.target()).toThrow(SchemaDeclarationError);
  });
});
