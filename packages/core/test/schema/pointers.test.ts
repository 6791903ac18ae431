import { describe, expect, it } from "vitest";
import {
  areaPointer,
  arrayPointer,
  caught,
  chars,
  codecFor,
  errorCode,
  InMemorySchemaMemory,
  placeStruct,
  pointer,
  reserved,
  type SchemaMemory,
  type StructOf,
  struct,
  u8,
  u16,
  u32,
  u64,
} from "./helpers.js";

const Extent = struct("extent", { phys: u64(), pages: u32({ min: 1 }), flags: u32({ mask: 0x3 }) });
const Inode = struct("inode", {
  ino: u32(),
  nr_extents: u32({ max: 4 }),
  extents: arrayPointer(Extent, { count: "nr_extents" }),
  parent: pointer(u32(), { nullable: true }),
  len: u16(),
  _r: reserved(6),
  data: areaPointer({ length: "len", align: 4 }),
});
const Fs = struct("fs", {
  nr_inodes: u64({ max: 100n }),
  inodes: arrayPointer(Inode, { count: "nr_inodes" }),
  label: pointer(chars(8)),
});

const value = {
  inodes: [
    { ino: 1, extents: [], parent: null, data: new Uint8Array(0) },
    {
      ino: 2,
      extents: [
        { phys: 1n << 60n, pages: 1, flags: 0 },
        { phys: 2n, pages: 3, flags: 3 },
      ],
      parent: 1,
      data: new Uint8Array([9, 8, 7]),
    },
    { ino: 3, extents: [{ phys: 5n, pages: 5, flags: 1 }], parent: 77, data: new Uint8Array([1]) },
  ],
  label: "root",
};

function offsetOf(s: typeof Fs | typeof Inode, name: string): number {
  return placeStruct(s).fields.find((f) => f.name === name)!.offset;
}

function encoded() {
  const memory = new InMemorySchemaMemory();
  const codec = codecFor(Fs);
  const bytes = codec.encode(value, memory);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const inodesPhys = Number(dv.getBigUint64(offsetOf(Fs, "inodes"), true));
  return { memory, codec, bytes, dv, inodesPhys };
}

describe("pointers", () => {
  it("round-trips structs pointing to arrays of structs, scalars, strings and raw areas", () => {
    const { memory, codec, bytes } = encoded();
    expect(codec.hasPointers).toBe(true);
    expect(codec.decode(bytes, memory)).toEqual(value);
  });

  it("derives count and length fields from the arrays and writes null for empty ones", () => {
    const { memory, bytes, dv, inodesPhys } = encoded();
    expect(dv.getBigUint64(offsetOf(Fs, "nr_inodes"), true)).toBe(3n);
    const inodeSize = placeStruct(Inode).size;
    const first = new DataView(memory.read(inodesPhys, inodeSize).buffer);
    expect(first.getUint32(offsetOf(Inode, "nr_extents"), true)).toBe(0);
    expect(first.getBigUint64(offsetOf(Inode, "extents"), true)).toBe(0n);
    expect(first.getBigUint64(offsetOf(Inode, "data"), true)).toBe(0n);
    const second = new DataView(memory.read(inodesPhys + inodeSize, inodeSize).buffer);
    expect(second.getUint32(offsetOf(Inode, "nr_extents"), true)).toBe(2);
    expect(second.getUint16(offsetOf(Inode, "len"), true)).toBe(3);
    expect(bytes.length).toBe(placeStruct(Fs).size);
  });

  it("refuses counts that violate the count field's invariants on encode", () => {
    const tooMany = { ...value.inodes[1]!, extents: Array(5).fill({ phys: 0n, pages: 1, flags: 0 }) };
    const e = caught(() => codecFor(Fs).encode({ ...value, inodes: [tooMany] }, new InMemorySchemaMemory()));
    expect(e.code).toBe("SCHEMA_INVARIANT");
    expect(e.context).toMatchObject({ path: "inodes[0].extents", countField: "nr_extents", rule: "max" });
  });

  it("reports pointee paths on encode", () => {
    const bad = structuredClone(value);
    bad.inodes[2]!.extents[0]!.pages = 0;
    const e = caught(() => codecFor(Fs).encode(bad, new InMemorySchemaMemory()));
    expect(e.context).toMatchObject({ path: "inodes[2].extents[0].pages", rule: "min" });
    expect(
      caught(() => codecFor(Fs).encode({ ...value, label: null as never }, new InMemorySchemaMemory())).code,
    ).toBe("SCHEMA_NULL_POINTER");
  });

  it("needs a memory only when a pointer must be written or followed", () => {
    const codec = codecFor(Inode);
    const empty = { ino: 1, extents: [], parent: null, data: new Uint8Array(0) };
    expect(codec.decode(codec.encode(empty))).toEqual(empty);
    expect(errorCode(() => codec.encode({ ...empty, parent: 1 }))).toBe("SCHEMA_NO_MEMORY");
    const { bytes } = encoded();
    expect(errorCode(() => codecFor(Fs).decode(bytes))).toBe("SCHEMA_NO_MEMORY");
  });

  it("stores and loads a root struct in memory", () => {
    const memory = new InMemorySchemaMemory();
    const codec = codecFor(Fs);
    const phys = codec.store(value, memory);
    expect(phys % 8).toBe(0);
    expect(codec.load(memory, phys)).toEqual(value);
    memory.unpreserve(phys, 1);
    expect(errorCode(() => codec.load(memory, phys))).toBe("SCHEMA_POINTER_NOT_PRESERVED");
    expect(errorCode(() => codec.load(memory, -1))).toBe("SCHEMA_INVALID_VALUE");
  });

  it("loads a pointer-free root struct too, checking it like a pointee", () => {
    const memory = new InMemorySchemaMemory();
    const codec = codecFor(Extent);
    const extent = { phys: 0x1000n, pages: 2, flags: 1 };
    const phys = codec.store(extent, memory);
    expect(codec.load(memory, phys)).toEqual(extent);
    expect(errorCode(() => codec.load(memory, phys + 4))).toBe("SCHEMA_POINTER_MISALIGNED");
    expect(errorCode(() => codec.load(memory, phys, { maxBytes: 8 }))).toBe("SCHEMA_BUDGET_EXCEEDED");
    expect(errorCode(() => codec.load(null as never, phys))).toBe("SCHEMA_NO_MEMORY");
    memory.unpreserve(phys, 1);
    expect(errorCode(() => codec.load(memory, phys))).toBe("SCHEMA_POINTER_NOT_PRESERVED");
  });
});

describe("pointers: hostile handover data", () => {
  it("refuses pointers outside preserved memory", () => {
    const { memory, codec, bytes, inodesPhys } = encoded();
    memory.unpreserve(inodesPhys + 10, 1);
    const e = caught(() => codec.decode(bytes, memory));
    expect(e.code).toBe("SCHEMA_POINTER_NOT_PRESERVED");
    expect(e.context).toMatchObject({ driver: "fs", path: "inodes", phys: inodesPhys });
  });

  it("refuses a pointer into memory that was never allocated, with the nested path", () => {
    const { memory, codec, bytes, inodesPhys } = encoded();
    const inodeSize = placeStruct(Inode).size;
    const at = inodesPhys + inodeSize + offsetOf(Inode, "extents");
    const patch = new Uint8Array(8);
    new DataView(patch.buffer, patch.byteOffset, patch.byteLength).setBigUint64(0, 0x7000_0000n, true);
    memory.write(at, patch);
    const e = caught(() => codec.decode(bytes, memory));
    expect(e.code).toBe("SCHEMA_POINTER_NOT_PRESERVED");
    expect(e.context.path).toBe("inodes[1].extents");
  });

  it("refuses misaligned pointers", () => {
    const { memory, codec, bytes, dv, inodesPhys } = encoded();
    dv.setBigUint64(offsetOf(Fs, "inodes"), BigInt(inodesPhys + 4), true);
    expect(errorCode(() => codec.decode(bytes, memory))).toBe("SCHEMA_POINTER_MISALIGNED");
  });

  it("refuses pointers above 2^53", () => {
    const { memory, codec, bytes, dv } = encoded();
    dv.setBigUint64(offsetOf(Fs, "inodes"), 1n << 60n, true);
    const e = caught(() => codec.decode(bytes, memory));
    expect(e.code).toBe("SCHEMA_POINTER_RANGE");
    expect(e.context.phys).toBe(1n << 60n);
  });

  it("refuses counts whose pointee overflows or exceeds preserved memory", () => {
    const Big = struct("big", { n: u64(), xs: arrayPointer(Extent, { count: "n" }) });
    const codec = codecFor(Big);
    const memory = new InMemorySchemaMemory();
    const bytes = codec.encode({ xs: [{ phys: 1n, pages: 1, flags: 0 }] }, memory);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    dv.setBigUint64(0, 1n << 62n, true);
    expect(errorCode(() => codec.decode(bytes, memory))).toBe("SCHEMA_COUNT_OVERFLOW");
    dv.setBigUint64(0, (1n << 53n) / 16n, true);
    expect(errorCode(() => codec.decode(bytes, memory))).toBe("SCHEMA_COUNT_OVERFLOW");
    dv.setBigUint64(0, 2n, true);
    expect(errorCode(() => codec.decode(bytes, memory))).toBe("SCHEMA_POINTER_NOT_PRESERVED");
    dv.setBigUint64(0, 1n << 20n, true);
    expect(errorCode(() => codec.decode(bytes, memory))).toBe("SCHEMA_POINTER_NOT_PRESERVED");
  });

  it("refuses null pointers where not allowed, and dangling pointers with zero counts", () => {
    const { memory, codec, bytes, dv } = encoded();
    const labelAt = offsetOf(Fs, "label");
    const saved = dv.getBigUint64(labelAt, true);
    dv.setBigUint64(labelAt, 0n, true);
    expect(errorCode(() => codec.decode(bytes, memory))).toBe("SCHEMA_NULL_POINTER");
    dv.setBigUint64(labelAt, saved, true);
    dv.setBigUint64(offsetOf(Fs, "nr_inodes"), 0n, true);
    expect(errorCode(() => codec.decode(bytes, memory))).toBe("SCHEMA_NULL_POINTER");
    dv.setBigUint64(offsetOf(Fs, "nr_inodes"), 3n, true);
    dv.setBigUint64(offsetOf(Fs, "inodes"), 0n, true);
    expect(errorCode(() => codec.decode(bytes, memory))).toBe("SCHEMA_NULL_POINTER");
  });

  interface ListNode {
    value: number;
    next: ListNode | null;
  }
  const ListNode: StructOf<ListNode> = struct("list_node", {
    value: u32(),
    _r: reserved(4),
    next: pointer((): StructOf<ListNode> => ListNode, { nullable: true }),
  });

  it("round-trips recursive structures", () => {
    const codec = codecFor(ListNode);
    const memory = new InMemorySchemaMemory();
    const list: ListNode = { value: 1, next: { value: 2, next: { value: 3, next: null } } };
    expect(codec.decode(codec.encode(list, memory), memory)).toEqual(list);
  });

  it("refuses pointer cycles", () => {
    const codec = codecFor(ListNode);
    const memory = new InMemorySchemaMemory();
    const phys = codec.store({ value: 1, next: null }, memory);
    const self = new Uint8Array(8);
    new DataView(self.buffer, self.byteOffset, self.byteLength).setBigUint64(0, BigInt(phys), true);
    memory.write(phys + 8, self); // node.next = node
    const e = caught(() => codec.load(memory, phys));
    expect(e.code).toBe("SCHEMA_POINTER_CYCLE");
    expect(e.context.path).toBe("next");
    // A longer cycle through a second node, found from a root held in a buffer.
    const root = codec.encode({ value: 0, next: { value: 1, next: { value: 2, next: null } } }, memory);
    const second = Number(new DataView(root.buffer, root.byteOffset, root.byteLength).getBigUint64(8, true));
    const secondNode = memory.read(second, 16);
    const third = Number(
      new DataView(secondNode.buffer, secondNode.byteOffset, secondNode.byteLength).getBigUint64(8, true),
    );
    const back = new Uint8Array(8);
    new DataView(back.buffer, back.byteOffset, back.byteLength).setBigUint64(0, BigInt(second), true);
    memory.write(third + 8, back);
    const e2 = caught(() => codec.decode(root, memory));
    expect(e2.code).toBe("SCHEMA_POINTER_CYCLE");
    expect(e2.context.path).toBe("next.next.next");
  });

  it("refuses shared and overlapping pointees", () => {
    const Pair = struct("pair", { a: pointer(Extent), b: pointer(Extent) });
    const codec = codecFor(Pair);
    const memory = new InMemorySchemaMemory();
    const bytes = codec.encode(
      { a: { phys: 1n, pages: 1, flags: 0 }, b: { phys: 2n, pages: 2, flags: 0 } },
      memory,
    );
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    dv.setBigUint64(8, dv.getBigUint64(0, true), true);
    const e = caught(() => codec.decode(bytes, memory));
    expect(e.code).toBe("SCHEMA_POINTER_SHARED");
    expect(e.context.path).toBe("b");
    dv.setBigUint64(8, dv.getBigUint64(0, true) + 8n, true);
    expect(errorCode(() => codec.decode(bytes, memory))).toBe("SCHEMA_POINTER_SHARED");
  });

  it("enforces depth, pointee and byte budgets", () => {
    const codec = codecFor(ListNode);
    const memory = new InMemorySchemaMemory();
    let list: ListNode | null = null;
    for (let i = 0; i < 50; i++) list = { value: i, next: list };
    const bytes = codec.encode(list!, memory);
    const e = caught(() => codec.decode(bytes, memory));
    expect(e.code).toBe("SCHEMA_BUDGET_EXCEEDED");
    expect(e.context.budget).toBe("maxDepth");
    expect(codec.decode(bytes, memory, { maxDepth: 100 })).toEqual(list);
    expect(caught(() => codec.decode(bytes, memory, { maxDepth: 100, maxPointees: 10 })).context.budget).toBe(
      "maxPointees",
    );
    expect(caught(() => codec.decode(bytes, memory, { maxDepth: 100, maxBytes: 64 })).context.budget).toBe(
      "maxBytes",
    );
  });

  it("turns misbehaving memory into typed errors", () => {
    const { memory, codec, bytes } = encoded();
    const shortReads: SchemaMemory = {
      read: (phys, len) => memory.read(phys, len).subarray(0, len - 1),
      write: (phys, b) => memory.write(phys, b),
      allocate: (s, a) => memory.allocate(s, a),
      isPreserved: (p, l) => memory.isPreserved(p, l),
    };
    expect(errorCode(() => codec.decode(bytes, shortReads))).toBe("SCHEMA_MEMORY");
    const throwing: SchemaMemory = {
      ...shortReads,
      isPreserved: () => {
        throw new TypeError("boom");
      },
    };
    expect(errorCode(() => codec.decode(bytes, throwing))).toBe("SCHEMA_MEMORY");
    const badAlloc: SchemaMemory = { ...shortReads, allocate: () => 3 };
    expect(errorCode(() => codec.encode(value, badAlloc))).toBe("SCHEMA_MEMORY");
    const unsafeAlloc: SchemaMemory = { ...shortReads, allocate: () => 2 ** 60 };
    expect(errorCode(() => codec.encode(value, unsafeAlloc))).toBe("SCHEMA_MEMORY");
  });

  it("pointer to scalar and to u8 arrays", () => {
    const S = struct("s", { p: pointer(u8()), n: u32(), xs: arrayPointer(u16(), { count: "n" }) });
    const codec = codecFor(S);
    const memory = new InMemorySchemaMemory();
    const v = { p: 7, xs: [1, 2, 3] };
    expect(codec.decode(codec.encode(v, memory), memory)).toEqual(v);
    expect(errorCode(() => codec.encode({ p: 256, xs: [] }, memory))).toBe("SCHEMA_INVARIANT");
  });
});
