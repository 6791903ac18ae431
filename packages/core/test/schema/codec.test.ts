import { describe, expect, it } from "vitest";
import {
  array,
  bool,
  bytes,
  caught,
  chars,
  codecFor,
  errorCode,
  i8,
  i16,
  i32,
  i64,
  type LiveUpdateErrorLike,
  placeStruct,
  reserved,
  SchemaBadStringError,
  SchemaInvalidValueError,
  SchemaInvariantError,
  SchemaReservedNonZeroError,
  SchemaShortBufferError,
  SchemaTrailingBytesError,
  struct,
  u8,
  u16,
  u32,
  u64,
} from "./helpers.js";

const Regs = struct("regs", {
  a8: u8(),
  b8: i8(),
  c16: u16(),
  d16: i16(),
  _r: reserved(2),
  e32: u32(),
  f32: i32(),
  g64: u64(),
  h64: i64(),
  flag: bool(),
  name: chars(8),
  blob: bytes(3),
  arr: array(u16(), 3),
  inner: struct("inner", { x: u32({ min: 1 }), y: u8({ enum: { a: 1, b: 2 } }) }),
  grid: array(array(i8(), 2), 2),
});

const sample = {
  a8: 255,
  b8: -128,
  c16: 65535,
  d16: -32768,
  e32: 0xffff_ffff,
  f32: -0x8000_0000,
  g64: 0xffff_ffff_ffff_ffffn,
  h64: -(1n << 63n),
  flag: true,
  name: "héllo",
  blob: new Uint8Array([1, 2, 3]),
  arr: [1, 2, 65535],
  inner: { x: 7, y: 2 },
  grid: [
    [-1, 1],
    [127, -128],
  ],
};

const codeOf = errorCode;

describe("codec: values", () => {
  const codec = codecFor(Regs);

  it("round-trips every kind exactly, including 64-bit extremes", () => {
    const bytes = codec.encode(sample);
    expect(bytes.length).toBe(codec.size);
    expect(codec.decode(bytes)).toEqual(sample);
  });

  it("is little-endian at C offsets", () => {
    const bytes = codec.encode(sample);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(bytes[0]).toBe(255);
    expect(dv.getInt8(1)).toBe(-128);
    expect(dv.getUint16(2, true)).toBe(65535);
    expect(dv.getUint32(8, true)).toBe(0xffff_ffff);
    expect(dv.getBigUint64(16, true)).toBe(0xffff_ffff_ffff_ffffn);
    expect(dv.getBigInt64(24, true)).toBe(-(1n << 63n));
    expect(bytes[32]).toBe(1);
    expect(new TextDecoder().decode(bytes.subarray(33, 39))).toBe("héllo");
    expect(bytes[39]).toBe(0);
  });

  it("u64 above 2^53 stays exact", () => {
    const S = struct("big", { v: u64() });
    const c = codecFor(S);
    for (const v of [2n ** 53n + 1n, 2n ** 64n - 2n, 0x1234_5678_9abc_def0n]) {
      expect(c.decode(c.encode({ v })).v).toBe(v);
    }
  });

  it("encodeInto and decodeAt work at offsets and overwrite stale bytes", () => {
    const target = new Uint8Array(codec.size + 10).fill(0xaa);
    codec.encodeInto(sample, target, 5);
    expect(target[4]).toBe(0xaa);
    expect(target[5 + codec.size]).toBe(0xaa);
    expect(codec.decodeAt(target, 5)).toEqual(sample);
    expect(codec.decode(target.subarray(5, 5 + codec.size))).toEqual(sample);
  });

  it("generates straight-line code at constant offsets", () => {
    const S = struct("flat", { a: u32(), b: u32(), c: u16() });
    const src = codecFor(S).source;
    expect(src).toContain("dv.setUint32(o + 4, ");
    expect(src).toContain("dv.getUint16(o + 8, true)");
    expect(src).not.toMatch(/for \(/);
  });

  it("caches one codec per struct and label", () => {
    expect(codecFor(Regs)).toBe(codec);
    expect(codecFor(Regs, { driver: "x", version: 2 })).not.toBe(codec);
  });
});

describe("codec: invalid values on encode", () => {
  const codec = codecFor(Regs);
  const cases: [string, (v: typeof sample) => unknown, string, string][] = [
    ["u8 out of range", (v) => ({ ...v, a8: 256 }), "SCHEMA_INVARIANT", "a8"],
    ["u8 fractional", (v) => ({ ...v, a8: 1.5 }), "SCHEMA_INVALID_VALUE", "a8"],
    ["i8 out of range", (v) => ({ ...v, b8: -129 }), "SCHEMA_INVARIANT", "b8"],
    ["u32 negative", (v) => ({ ...v, e32: -1 }), "SCHEMA_INVARIANT", "e32"],
    ["i32 as string", (v) => ({ ...v, f32: "1" }), "SCHEMA_INVALID_VALUE", "f32"],
    ["u64 as number", (v) => ({ ...v, g64: 1 }), "SCHEMA_INVALID_VALUE", "g64"],
    ["u64 too large", (v) => ({ ...v, g64: 1n << 64n }), "SCHEMA_INVARIANT", "g64"],
    ["i64 too small", (v) => ({ ...v, h64: -(1n << 63n) - 1n }), "SCHEMA_INVARIANT", "h64"],
    ["bool as number", (v) => ({ ...v, flag: 1 }), "SCHEMA_INVALID_VALUE", "flag"],
    ["string too long", (v) => ({ ...v, name: "12345678" }), "SCHEMA_BAD_STRING", "name"],
    ["string with NUL", (v) => ({ ...v, name: "a\0b" }), "SCHEMA_BAD_STRING", "name"],
    ["lone surrogate", (v) => ({ ...v, name: "\ud800é" }), "SCHEMA_BAD_STRING", "name"],
    ["multibyte too long", (v) => ({ ...v, name: "éééé" }), "SCHEMA_BAD_STRING", "name"],
    ["bytes wrong length", (v) => ({ ...v, blob: new Uint8Array(4) }), "SCHEMA_INVALID_VALUE", "blob"],
    ["array wrong length", (v) => ({ ...v, arr: [1, 2] }), "SCHEMA_INVALID_VALUE", "arr"],
    ["array element", (v) => ({ ...v, arr: [1, 2, -3] }), "SCHEMA_INVARIANT", "arr[2]"],
    ["nested min", (v) => ({ ...v, inner: { x: 0, y: 1 } }), "SCHEMA_INVARIANT", "inner.x"],
    ["nested enum", (v) => ({ ...v, inner: { x: 1, y: 3 } }), "SCHEMA_INVARIANT", "inner.y"],
    ["nested missing", (v) => ({ ...v, inner: null }), "SCHEMA_INVALID_VALUE", "inner"],
    [
      "grid element",
      (v) => ({
        ...v,
        grid: [
          [0, 0],
          [0, 999],
        ],
      }),
      "SCHEMA_INVARIANT",
      "grid[1][1]",
    ],
    ["missing field", ({ a8: _a8, ...v }) => v, "SCHEMA_INVALID_VALUE", "a8"],
  ];
  it.each(cases)("%s → typed error with the field path", (_name, mutate, code, path) => {
    let error: unknown;
    try {
      codec.encode(mutate(sample) as typeof sample);
    } catch (e) {
      error = e;
    }
    expect((error as LiveUpdateErrorLike).code).toBe(code);
    expect((error as LiveUpdateErrorLike).context).toMatchObject({ driver: "regs", path });
  });

  it("refuses non-object roots", () => {
    expect(codeOf(() => codec.encode(null as never))).toBe("SCHEMA_INVALID_VALUE");
    expect(codeOf(() => codec.encode(5 as never))).toBe("SCHEMA_INVALID_VALUE");
  });

  it("checks every invariant kind on encode", () => {
    const S = struct("inv", {
      lo: u32({ min: 10 }),
      hi: u16({ max: 10 }),
      m: u32({ mask: 0x8000_0001 }),
      e: i16({ enum: [-5, 5] }),
      z: u64({ mustBeZero: true }),
      m64: u64({ mask: 1n << 63n }),
    });
    const c = codecFor(S);
    const ok = { lo: 10, hi: 10, m: 0x8000_0001, e: -5, z: 0n, m64: 1n << 63n };
    expect(c.decode(c.encode(ok))).toEqual(ok);
    const rule = (v: Partial<typeof ok>) => {
      try {
        c.encode({ ...ok, ...v });
      } catch (e) {
        expect(e).toBeInstanceOf(SchemaInvariantError);
        return (e as SchemaInvariantError).context.rule;
      }
      return undefined;
    };
    expect(rule({ lo: 9 })).toBe("min");
    expect(rule({ hi: 11 })).toBe("max");
    expect(rule({ m: 2 })).toBe("mask");
    expect(rule({ e: 0 })).toBe("enum");
    expect(rule({ z: 1n })).toBe("mustBeZero");
    expect(rule({ m64: 1n })).toBe("mask");
  });
});

describe("codec: hostile bytes on decode", () => {
  const codec = codecFor(Regs);
  const good = () => codec.encode(sample);

  it("refuses short and long buffers", () => {
    expect(() => codec.decode(good().subarray(0, codec.size - 1))).toThrow(SchemaShortBufferError);
    expect(() => codec.decode(new Uint8Array(0))).toThrow(SchemaShortBufferError);
    expect(() => codec.decode(new Uint8Array(codec.size + 1))).toThrow(SchemaTrailingBytesError);
    expect(() => codec.decodeAt(good(), 1)).toThrow(SchemaShortBufferError);
    expect(codeOf(() => codec.decodeAt(good(), -1))).toBe("SCHEMA_INVALID_VALUE");
    expect(codeOf(() => codec.decode("x" as never))).toBe("SCHEMA_INVALID_VALUE");
  });

  it("refuses non-zero reserved bytes and implicit padding", () => {
    const b = good();
    b[6] = 1; // _r
    expect(() => codec.decode(b)).toThrow(SchemaReservedNonZeroError);
    const padded = codecFor(struct("p", { a: u8(), b: u32() }));
    const bytes = padded.encode({ a: 1, b: 2 });
    bytes[2] = 9;
    try {
      padded.decode(bytes);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SchemaReservedNonZeroError);
      expect((e as SchemaReservedNonZeroError).context.path).toBe("__pad1");
    }
  });

  it("refuses bool bytes other than 0/1", () => {
    const b = good();
    b[32] = 2;
    expect(codeOf(() => codec.decode(b))).toBe("SCHEMA_INVARIANT");
  });

  it("refuses bad strings: garbage after NUL, no terminator, invalid UTF-8", () => {
    const nameAt = placeStruct(Regs).fields.find((f) => f.name === "name")!.offset;
    const afterNul = good();
    afterNul[nameAt + 7] = 0x41; // "héllo" is 6 bytes, then NULs
    expect(() => codec.decode(afterNul)).toThrow(SchemaBadStringError);
    const unterminated = good();
    unterminated.fill(0x41, nameAt, nameAt + 8);
    expect(() => codec.decode(unterminated)).toThrow(SchemaBadStringError);
    const invalid = good();
    invalid[nameAt] = 0xff;
    expect(() => codec.decode(invalid)).toThrow(SchemaBadStringError);
    const shorter = good();
    shorter.fill(0, nameAt + 1, nameAt + 8); // "h" then NULs
    expect(codec.decode(shorter).name).toBe("h");
  });

  it("supports unterminated fixed strings when declared", () => {
    const Magic = codecFor(struct("magic", { m: chars(4, { nulTerminated: false }) }));
    expect(Magic.decode(Magic.encode({ m: "KHO1" }))).toEqual({ m: "KHO1" });
    expect(Magic.decode(Magic.encode({ m: "ab" }))).toEqual({ m: "ab" });
    expect(codeOf(() => Magic.encode({ m: "KHO12" }))).toBe("SCHEMA_BAD_STRING");
  });

  it("checks invariants on decode with the field path", () => {
    const innerAt = placeStruct(Regs).fields.find((f) => f.name === "inner")!.offset;
    const bad = good();
    new DataView(bad.buffer, bad.byteOffset, bad.byteLength).setUint32(innerAt, 0, true);
    const e = caught(() => codec.decode(bad));
    expect(e).toBeInstanceOf(SchemaInvariantError);
    expect(e.context).toMatchObject({ path: "inner.x", rule: "min", driver: "regs" });
    bad[innerAt + 4] = 3;
    new DataView(bad.buffer, bad.byteOffset, bad.byteLength).setUint32(innerAt, 1, true);
    expect(caught(() => codec.decode(bad)).context).toMatchObject({ path: "inner.y", rule: "enum" });
  });

  it("reports invalid value errors with all issues for SchemaInvalidValueError", () => {
    try {
      codec.encode({ ...sample, a8: "x" } as never);
    } catch (e) {
      expect(e).toBeInstanceOf(SchemaInvalidValueError);
      expect((e as SchemaInvalidValueError).issues).toEqual([{ path: "a8", message: expect.any(String) }]);
    }
  });
});
