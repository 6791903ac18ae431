import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FsV1, FsV4 } from "./fixtures/example-schema.js";
import { randomStruct } from "./fixtures/random-declarations.js";
import {
  arbitraryFor,
  arrayPointer,
  assertLaws,
  checkRoundTrip,
  codecFor,
  InMemorySchemaMemory,
  ioTypeOf,
  layoutOf,
  pointer,
  reserved,
  SchemaDeclarationError,
  type StructOf,
  struct,
  u8,
  u16,
  u32,
  u64,
  valuesEqual,
} from "./helpers.js";

describe("arbitraryFor", () => {
  it("generates values that satisfy every invariant (io-ts) and encode", () => {
    for (const S of [FsV1, FsV4]) {
      fc.assert(
        fc.property(arbitraryFor(S), (v) => {
          expect(ioTypeOf(S).is(v)).toBe(true);
          codecFor(S).encode(v, new InMemorySchemaMemory());
        }),
        { numRuns: 100 },
      );
    }
  });

  it("respects invariant combinations and count bounds", () => {
    const S = struct("inv", {
      m: u32({ mask: 0xf0, min: 0x15, max: 0x95 }),
      e: u8({ enum: { a: 3, b: 7 }, max: 5 }),
      z: u64({ mustBeZero: true }),
      big: u64({ mask: 0xffn << 56n }),
      n: u16({ min: 2, max: 3 }),
      xs: arrayPointer(u8(), { count: "n" }),
    });
    fc.assert(
      fc.property(arbitraryFor(S), (v) => {
        expect(v.m & ~0xf0).toBe(0);
        expect(v.m).toBeGreaterThanOrEqual(0x15);
        expect(v.m).toBeLessThanOrEqual(0x95);
        expect(v.e).toBe(3);
        expect(v.z).toBe(0n);
        expect(v.big & ~(0xffn << 56n)).toBe(0n);
        expect([2, 3]).toContain(v.xs.length);
      }),
      { numRuns: 200 },
    );
  });

  it("bounds recursion by depth and refuses infinite non-nullable recursion", () => {
    interface Tree {
      v: number;
      kids: Tree[];
    }
    const Tree: StructOf<Tree> = struct("tree", {
      v: u32(),
      n: u32(),
      kids: arrayPointer((): StructOf<Tree> => Tree, { count: "n" }),
    });
    const depth = (t: Tree): number => 1 + Math.max(0, ...t.kids.map(depth));
    fc.assert(
      fc.property(arbitraryFor(Tree, { maxDepth: 2, maxPointeeLength: 2 }), (t) => {
        expect(depth(t)).toBeLessThanOrEqual(3);
        const memory = new InMemorySchemaMemory();
        expect(codecFor(Tree).decode(codecFor(Tree).encode(t, memory), memory)).toEqual(t);
      }),
      { numRuns: 50 },
    );
    interface Endless {
      next: Endless;
    }
    const Endless: StructOf<Endless> = struct("endless", { next: pointer((): StructOf<Endless> => Endless) });
    expect(() => arbitraryFor(Endless)).toThrow(SchemaDeclarationError);
  });
});

describe("random declarations", () => {
  it("lay out every byte with natural alignment", () => {
    fc.assert(
      fc.property(randomStruct, (S) => {
        for (const s of layoutOf(S).structs) {
          let at = 0;
          for (const f of s.fields) {
            expect(f.offset).toBe(at);
            if (!s.packed) expect(f.offset % f.align).toBe(0);
            at += f.size;
          }
          expect(at).toBe(s.size);
          expect(s.size % s.align).toBe(0);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("round-trip generated values through the generated codec", () => {
    fc.assert(
      fc.property(
        randomStruct.chain((S) =>
          fc.tuple(fc.constant(S), arbitraryFor(S, { maxPointeeLength: 2, maxAreaLength: 8 })),
        ),
        ([S, v]) => {
          expect(ioTypeOf(S).is(v)).toBe(true);
          const codec = codecFor(S);
          const memory = new InMemorySchemaMemory();
          const bytes = codec.encode(v, memory);
          expect(bytes.length).toBe(codec.size);
          expect(valuesEqual(codec.decode(bytes, memory), v)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("pass the exported round-trip checker", () => {
    fc.assert(
      fc.property(randomStruct, (S) => {
        assertLaws(checkRoundTrip(S, { numRuns: 10, maxPointeeLength: 2 }));
      }),
      { numRuns: 30 },
    );
  });

  it("a struct with only reserved bytes has the empty value", () => {
    const S = struct("pad", { _r: reserved(4) });
    expect(codecFor(S).decode(codecFor(S).encode({}))).toEqual({});
  });
});
