/**
 * Property tests: random trees round-trip exactly, and random corruption of valid blobs only ever
 * produces typed FDT errors (never a RangeError / TypeError, never a hang).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LiveUpdateError } from "../../src/common/errors.js";
import {
  decodeFdt,
  encodeFdt,
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_NOP,
  FDT_PROP,
  FdtBuilder,
  FdtError,
  type FdtTree,
  fdtToDts,
  readFdtHeader,
} from "../../src/kho/fdt/index.js";
import { assemble, buildTree, plain, struct, toHex, treeArb } from "./fdt-helpers.js";

const CODES = new Set([
  "FDT_BAD_MAGIC",
  "FDT_BAD_VERSION",
  "FDT_TRUNCATED",
  "FDT_BAD_LAYOUT",
  "FDT_BAD_STRUCTURE",
  "FDT_BAD_STRING",
  "FDT_BAD_NAME",
  "FDT_DUPLICATE_NAME",
  "FDT_TOO_DEEP",
]);

/** Decodes, accepting only success or a typed decoder error; anything else fails the property. */
function decodeOrTypedError(blob: Uint8Array): FdtTree | undefined {
  try {
    return decodeFdt(blob, { maxDepth: 8 });
  } catch (e) {
    if (!(e instanceof FdtError) || !(e instanceof LiveUpdateError)) throw e;
    if (!CODES.has(e.code)) throw new Error(`unexpected decoder code ${e.code}: ${e.message}`);
    expect(e.context).toBeTypeOf("object");
    return undefined;
  }
}

/** Fixed seeds covering both layouts (libfdt's and dtc's), reservations, NOPs and version 16. */
const corpus: Uint8Array[] = [
  new FdtBuilder({ bootCpuidPhys: 1 })
    .addReservation(0x1000n, 0x2000n)
    .beginNode("")
    .propString("compatible", "kho-v1")
    .propU64le("preserved-memory-map", 0x1234_5000n)
    .beginNode("memblock")
    .propU64le("fdt", 0x2000_0000n)
    .propStringList("compatible", ["memblock-v1", "x"])
    .beginNode("inner@1")
    .propEmpty("flag")
    .endNode()
    .endNode()
    .beginNode("sub@2")
    .propU32Array("reg", [2, 0x100])
    .endNode()
    .endNode()
    .finish(),
  assemble({
    rsvmap: [[0x8000_0000n, 0x1000n]],
    struct: struct(
      FDT_BEGIN_NODE,
      "",
      FDT_NOP,
      FDT_PROP,
      4,
      0,
      Uint8Array.of(0, 0, 0, 1),
      FDT_BEGIN_NODE,
      "a@1",
      FDT_PROP,
      3,
      2,
      Uint8Array.of(1, 2, 3),
      FDT_END_NODE,
      FDT_END_NODE,
      FDT_END,
    ),
    strings: "p\0q\0",
  }),
  assemble({
    struct: struct(
      FDT_BEGIN_NODE,
      "",
      FDT_PROP,
      0,
      0,
      FDT_BEGIN_NODE,
      "n",
      FDT_END_NODE,
      FDT_END_NODE,
      FDT_END,
    ),
    strings: "flag\0",
    header: { version: 16, sizeDtStruct: 0 },
  }),
];

const blobArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constantFrom(...corpus),
  treeArb(undefined, 2).map((spec) => encodeFdt(buildTree(spec))),
);

type Mutation =
  | { kind: "byte"; at: number; value: number }
  | { kind: "word"; at: number; value: number }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array };

const INTERESTING = [
  0, 1, 2, 3, 4, 8, 9, 16, 17, 40, 48, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff,
];

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant("word" as const),
    at: fc.nat(),
    value: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 0xffffffff })),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
);

function mutate(blob: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let out = blob.slice();
  for (const m of mutations) {
    if (out.length === 0) break;
    const at = m.at % out.length;
    switch (m.kind) {
      case "byte":
        out[at] = m.value;
        break;
      case "word": {
        // Mostly hit aligned u32s (header fields, tokens, lengths, name offsets).
        const aligned = at - (at % 4);
        if (aligned + 4 <= out.length) new DataView(out.buffer).setUint32(aligned, m.value, false);
        break;
      }
      case "truncate":
        out = out.slice(0, at);
        break;
      case "insert":
        out = Uint8Array.from([...out.subarray(0, at), ...m.bytes, ...out.subarray(at)]);
        break;
    }
  }
  return out;
}

describe("FDT property tests", () => {
  it("random trees round-trip encode → decode exactly, and re-encode to the same bytes", () => {
    fc.assert(
      fc.property(treeArb(), (spec) => {
        const tree = buildTree(spec);
        const blob = encodeFdt(tree);
        const back = decodeFdt(blob);
        expect(plain(back)).toEqual(plain(tree));
        expect(toHex(encodeFdt(back))).toBe(toHex(blob));
        expect(readFdtHeader(blob).totalsize).toBe(blob.length);
        expect(fdtToDts(back)).toBe(fdtToDts(tree));
      }),
      { numRuns: 200, seed: 1 },
    );
  });

  it("random mutations and truncations of valid blobs only produce typed errors", () => {
    fc.assert(
      fc.property(blobArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (blob, mutations) => {
        const mutated = mutate(blob, mutations);
        const tree = decodeOrTypedError(mutated);
        if (tree !== undefined) {
          // Whatever decodes is a valid tree: it re-encodes and decodes to the same thing.
          expect(plain(decodeFdt(encodeFdt(tree)))).toEqual(plain(tree));
        }
      }),
      { numRuns: 2500, seed: 2 },
    );
  });

  it("every header field set to any value only produces typed errors", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...corpus),
        fc.integer({ min: 0, max: 9 }),
        fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 0xffffffff })),
        fc.integer({ min: -8, max: 8 }),
        (blob, field, value, delta) => {
          const copy = blob.slice();
          const view = new DataView(copy.buffer);
          // Either an arbitrary value or a small shift of the real one (off-by-a-few layouts).
          const next = delta === 0 ? value : (view.getUint32(field * 4, false) + delta) >>> 0;
          view.setUint32(field * 4, next, false);
          decodeOrTypedError(copy);
          try {
            readFdtHeader(copy);
          } catch (e) {
            if (!(e instanceof FdtError)) throw e;
          }
        },
      ),
      { numRuns: 1500, seed: 3 },
    );
  });

  it("arbitrary bytes, and random token streams in a well-formed layout, only produce typed errors", () => {
    const part = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END) },
      { weight: 3, arbitrary: fc.integer({ min: 0, max: 12 }) },
      { weight: 2, arbitrary: fc.constantFrom("", "a", "a@1", "b", "bad name", "x@1@2") },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 120 }),
        fc.array(part, { maxLength: 24 }),
        fc.boolean(),
        (bytes, parts, v16) => {
          decodeOrTypedError(bytes);
          const blob = assemble({
            rsvmap: [[0x1000n, 0x1000n]],
            struct: struct(...parts),
            strings: "p\0q\0a@b\0",
            header: v16 ? { version: 16 } : {},
          });
          decodeOrTypedError(blob);
          decodeOrTypedError(assemble({ struct: struct(FDT_BEGIN_NODE, "", ...parts), strings: "p\0q\0" }));
        },
      ),
      { numRuns: 1500, seed: 4 },
    );
  });
});
