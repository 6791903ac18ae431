import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FsV2 } from "./fixtures/example-schema.js";
import {
  type AnyStruct,
  arbitraryFor,
  array,
  bool,
  chars,
  codecFor,
  type Infer,
  InMemorySchemaMemory,
  i16,
  ioTypeOf,
  pointer,
  reserved,
  SchemaError,
  type StructOf,
  struct,
  u8,
  u32,
  u64,
  valuesEqual,
} from "./helpers.js";

/**
 * Bounded fuzzing of the decoder: mutated and truncated encodings, mutated pointee memory,
 * redirected pointers (cycles, sharing, wild addresses) and unpreserved ranges. The only allowed
 * outcomes are a typed SchemaError or a value that is valid and re-encodes to an equal value.
 */

type Mutation =
  | { kind: "flip"; where: "root" | "memory"; at: number; xor: number }
  | {
      kind: "redirect";
      where: "root" | "memory";
      at: number;
      target: "allocated" | "wild" | "huge" | "zero";
      pick: number;
      delta: number;
    }
  | { kind: "unpreserve"; pick: number; offset: number; length: number }
  | { kind: "truncate"; keep: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("flip" as const),
      where: fc.constantFrom("root" as const, "memory" as const),
      at: fc.nat(),
      xor: fc.integer({ min: 1, max: 255 }),
    }),
    weight: 5,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("redirect" as const),
      where: fc.constantFrom("root" as const, "memory" as const),
      at: fc.nat(),
      target: fc.constantFrom("allocated" as const, "wild" as const, "huge" as const, "zero" as const),
      pick: fc.nat(),
      delta: fc.oneof(fc.constant(0), fc.integer({ min: -16, max: 16 })),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("unpreserve" as const),
      pick: fc.nat(),
      offset: fc.nat(64),
      length: fc.integer({ min: 1, max: 64 }),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ kind: fc.constant("truncate" as const), keep: fc.nat() }), weight: 1 },
);

function applyMutation(m: Mutation, root: Uint8Array, memory: InMemorySchemaMemory): Uint8Array {
  const ranges = memory.preservedRanges();
  const memoryByte = (at: number): number | undefined => {
    const total = ranges.reduce((n, [s, e]) => n + e - s, 0);
    if (total === 0) return undefined;
    let k = at % total;
    for (const [s, e] of ranges) {
      if (k < e - s) return s + k;
      k -= e - s;
    }
    return undefined;
  };
  switch (m.kind) {
    case "truncate":
      return root.subarray(0, m.keep % root.length);
    case "flip": {
      if (m.where === "root") {
        root[m.at % root.length]! ^= m.xor;
      } else {
        const at = memoryByte(m.at);
        if (at !== undefined) memory.write(at, Uint8Array.of(memory.read(at, 1)[0]! ^ m.xor));
      }
      return root;
    }
    case "redirect": {
      const starts = ranges.map(([s]) => s);
      const addr =
        m.target === "zero"
          ? 0n
          : m.target === "huge"
            ? (1n << 63n) + BigInt(m.pick)
            : m.target === "wild"
              ? BigInt(m.pick % 0x4000_0000)
              : BigInt(Math.max(0, (starts[m.pick % Math.max(1, starts.length)] ?? 0) + m.delta * 8));
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(0, addr, true);
      if (m.where === "root") {
        if (root.length >= 8) root.set(bytes, (Math.floor(m.at / 8) * 8) % (root.length - 7));
      } else {
        const at = memoryByte(m.at);
        if (at !== undefined) {
          const aligned = at - (at % 8);
          if (memory.isPreserved(aligned, 8)) memory.write(aligned, bytes);
        }
      }
      return root;
    }
    case "unpreserve": {
      const range = ranges[m.pick % Math.max(1, ranges.length)];
      if (range !== undefined) memory.unpreserve(range[0] + m.offset, m.length);
      return root;
    }
  }
}

function checkOutcome(S: AnyStruct, bytes: Uint8Array, memory: InMemorySchemaMemory): "error" | "value" {
  const codec = codecFor(S);
  let decoded: unknown;
  try {
    decoded = codec.decode(bytes, memory);
  } catch (e) {
    if (!(e instanceof SchemaError)) throw e;
    expect(e.code).toMatch(/^SCHEMA_[A-Z_]+$/);
    expect(e.context.driver).toBe(S.name);
    expect(typeof e.context.path).toBe("string");
    return "error";
  }
  expect(ioTypeOf(S).is(decoded)).toBe(true);
  const fresh = new InMemorySchemaMemory();
  const again = codec.encode(decoded as Infer<typeof S>, fresh);
  expect(valuesEqual(codec.decode(again, fresh), decoded)).toBe(true);
  return "value";
}

describe("decoder fuzzing", () => {
  it("mutated encodings and pointee memory yield typed errors or valid values", () => {
    const outcomes = { error: 0, value: 0 };
    fc.assert(
      fc.property(
        arbitraryFor(FsV2, { maxPointeeLength: 3 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (v, mutations) => {
          const memory = new InMemorySchemaMemory();
          let bytes: Uint8Array = codecFor(FsV2).encode(v, memory);
          for (const m of mutations) bytes = applyMutation(m, bytes, memory);
          outcomes[checkOutcome(FsV2, bytes, memory)]++;
        },
      ),
      { numRuns: 400 },
    );
    expect(outcomes.error).toBeGreaterThan(50);
    expect(outcomes.value).toBeGreaterThan(10);
  });

  interface Node {
    value: number;
    left: Node | null;
    right: Node | null;
  }
  const Node: StructOf<Node> = struct("node", {
    value: u32(),
    _r: reserved(4),
    left: pointer((): StructOf<Node> => Node, { nullable: true }),
    right: pointer((): StructOf<Node> => Node, { nullable: true }),
  });

  /** Node i's left (slot 0) or right (slot 1) pointer → node j: makes cycles and sharing likely. */
  const link = fc.record({ from: fc.nat(), slot: fc.nat(1), to: fc.nat() });
  const NODE_SIZE = 24;

  it("redirected pointers in recursive structures terminate with cycle/sharing errors", () => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(
        arbitraryFor(Node, { maxDepth: 4 }),
        fc.array(mutation, { maxLength: 2 }),
        fc.array(link, { maxLength: 2 }),
        (v, mutations, links) => {
          const memory = new InMemorySchemaMemory();
          let bytes: Uint8Array = codecFor(Node).encode(v, memory);
          const base = memory.preservedRanges()[0]?.[0];
          const nodes = memory.allocatedBytes / NODE_SIZE;
          for (const l of links) {
            if (base === undefined) break;
            const target = new Uint8Array(8);
            new DataView(target.buffer, target.byteOffset, target.byteLength).setBigUint64(
              0,
              BigInt(base + (l.to % nodes) * NODE_SIZE),
              true,
            );
            memory.write(base + (l.from % nodes) * NODE_SIZE + 8 + 8 * l.slot, target);
          }
          for (const m of mutations) bytes = applyMutation(m, bytes, memory);
          try {
            codecFor(Node).decode(bytes, memory);
            outcomes.set("value", (outcomes.get("value") ?? 0) + 1);
          } catch (e) {
            if (!(e instanceof SchemaError)) throw e;
            outcomes.set(e.code, (outcomes.get(e.code) ?? 0) + 1);
          }
          checkOutcome(Node, bytes, memory);
        },
      ),
      { numRuns: 400 },
    );
    expect(outcomes.get("SCHEMA_POINTER_CYCLE") ?? 0).toBeGreaterThan(5);
    expect(outcomes.get("SCHEMA_POINTER_SHARED") ?? 0).toBeGreaterThan(5);
    expect(outcomes.get("value") ?? 0).toBeGreaterThan(5);
  });

  const Flat = struct("flat", {
    a: u8({ enum: [1, 2, 3] }),
    b: bool(),
    c: i16({ min: -100, max: 100 }),
    d: u32({ mask: 0xff00ff }),
    name: chars(6),
    e: u64(),
    f: array(u8({ max: 200 }), 3),
  });

  it("random bytes decode to a typed error or to a value whose encoding is the same bytes", () => {
    const codec = codecFor(Flat);
    let values = 0;
    const byteArb = fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: codec.size + 2 }),
      arbitraryFor(Flat).chain((v) =>
        fc.tuple(fc.nat(codec.size - 1), fc.integer({ min: 1, max: 255 })).map(([at, xor]) => {
          const b = codec.encode(v);
          b[at]! ^= xor;
          return b;
        }),
      ),
    );
    fc.assert(
      fc.property(byteArb, (bytes) => {
        let decoded: Infer<typeof Flat>;
        try {
          decoded = codec.decode(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(SchemaError);
          return;
        }
        values++;
        expect(codec.encode(decoded)).toEqual(bytes); // the encoding is canonical
      }),
      { numRuns: 1000 },
    );
    expect(values).toBeGreaterThan(10);
  });
});
