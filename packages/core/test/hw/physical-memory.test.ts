import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BadAccessError,
  exportMemoryImage,
  GiB,
  Machine,
  MemoryMap,
  MemoryMapError,
  MiB,
  NotMemoryError,
  PhysicalMemory,
  parseSize,
  SECTION_SIZE,
  SizeParseError,
  TiB,
  ViewStraddlesSectionError,
} from "@liveupdate/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

/** One step of the model-based tests below. */
type Operation =
  | { kind: "write"; at: number; bytes: Uint8Array }
  | { kind: "fill"; at: number; length: number; byte: number }
  | { kind: "u32"; at: number; value: number }
  | { kind: "u64"; at: number; value: bigint }
  | { kind: "copy"; from: number; to: number; length: number }
  | { kind: "read" | "peek" | "view"; at: number; length: number }
  | { kind: "readU16"; at: number }
  | { kind: "readU32"; at: number };

/**
 * Applies `op` to `memory` and to `model` (a plain byte array of memory from address 0), clamped
 * to the model's end (views and peeks to their section); reads are compared with the model.
 */
function apply(memory: PhysicalMemory, model: Uint8Array, op: Operation): void {
  const size = model.length;
  const dv = new DataView(model.buffer);
  if (op.kind === "write") {
    const bytes = op.bytes.subarray(0, size - op.at);
    memory.write(op.at, bytes);
    model.set(bytes, op.at);
  } else if (op.kind === "fill") {
    const length = Math.min(op.length, size - op.at);
    memory.fill(op.at, length, op.byte);
    model.fill(op.byte, op.at, op.at + length);
  } else if (op.kind === "u32") {
    memory.writeU32(op.at, op.value);
    dv.setUint32(op.at, op.value, true);
  } else if (op.kind === "u64") {
    memory.writeU64(op.at, op.value);
    dv.setBigUint64(op.at, op.value, true);
  } else if (op.kind === "copy") {
    const length = Math.min(op.length, size - op.from, size - op.to);
    memory.copy(op.to, op.from, length);
    model.copyWithin(op.to, op.from, op.from + length);
  } else if (op.kind === "read") {
    const length = Math.min(op.length, size - op.at);
    expect(Buffer.compare(memory.read(op.at, length), model.subarray(op.at, op.at + length))).toBe(0);
  } else if (op.kind === "readU16") {
    expect(memory.readU16(op.at)).toBe(dv.getUint16(op.at, true));
  } else if (op.kind === "readU32") {
    expect(memory.readU32(op.at)).toBe(dv.getUint32(op.at, true));
  } else {
    const length = Math.min(op.length, SECTION_SIZE - (op.at % SECTION_SIZE));
    const got = op.kind === "peek" ? memory.peek(op.at, length) : memory.view(op.at, length);
    expect(Buffer.compare(got, model.subarray(op.at, op.at + length))).toBe(0);
  }
}

/** Non-constant bytes (xorshift) that bulk writes take slices of: cheaper than generating each. */
function pattern(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = 0x2545f491;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

describe("PhysicalMemory", () => {
  it("reads and writes little-endian scalars, including across 2 MiB sections", () => {
    const memory = new PhysicalMemory(MemoryMap.standardX86(64 * MiB));
    memory.writeU64(0x100000, 0x1122334455667788n);
    expect(memory.readU32(0x100000)).toBe(0x55667788);
    expect(memory.readU32(0x100004)).toBe(0x11223344);
    expect(memory.readU16(0x100006)).toBe(0x1122);
    expect(memory.readU8(0x100007)).toBe(0x11);
    const edge = 4 * SECTION_SIZE - 3;
    memory.writeU64(edge, 0xfedcba9876543210n);
    expect(memory.readU64(edge)).toBe(0xfedcba9876543210n);
    memory.writeU32(edge + 1, 0xdeadbeef);
    expect(memory.readU32(edge + 1)).toBe(0xdeadbeef);
    memory.writeU16(4 * SECTION_SIZE - 1, 0xabcd);
    expect(memory.readU16(4 * SECTION_SIZE - 1)).toBe(0xabcd);
  });

  it("is sparse: a 1 TiB machine costs only the sections touched", () => {
    const machine = new Machine({ memory: TiB });
    machine.memory.writeU32(900 * GiB, 7);
    machine.memory.fill(10 * GiB, 100 * GiB, 0x6b);
    expect(machine.memory.readU8(50 * GiB)).toBe(0x6b);
    expect(machine.memory.readU32(900 * GiB)).toBe(7);
    expect(machine.memory.backedBytes()).toBe(SECTION_SIZE);
  });

  it("tells which sections read as one fill byte without backing them", () => {
    const memory = new PhysicalMemory(MemoryMap.standardX86(8 * GiB));
    expect(memory.uniformSectionByte(4 * GiB)).toBe(0);
    memory.fill(4 * GiB, 4 * MiB, 0x6b); // whole sections: O(1) poison, still unbacked
    expect(memory.uniformSectionByte(4 * GiB + 2 * MiB)).toBe(0x6b);
    memory.fill(4 * GiB + 4096, 4096, 0); // a partial fill is pending: not uniform any more
    expect(memory.uniformSectionByte(4 * GiB)).toBeUndefined();
    memory.writeU8(6 * GiB + 5, 1);
    expect(memory.uniformSectionByte(6 * GiB)).toBeUndefined();
    expect(memory.backedBytes()).toBe(SECTION_SIZE);
    expect(() => memory.uniformSectionByte(4 * GiB + 4096)).toThrow(BadAccessError);
    expect(() => memory.uniformSectionByte(3.5 * GiB)).toThrow(NotMemoryError);
  });

  it("refuses accesses outside memory and malformed addresses with typed errors", () => {
    const memory = new PhysicalMemory(MemoryMap.standardX86(8 * GiB));
    expect(() => memory.readU32(3.5 * GiB)).toThrow(NotMemoryError); // the MMIO hole
    expect(() => memory.readU8(9 * GiB + 1)).toThrow(NotMemoryError);
    expect(() => memory.write(3 * GiB - 2, new Uint8Array(4))).toThrow(NotMemoryError);
    expect(() => memory.readU32(-4)).toThrow(BadAccessError);
    expect(() => memory.readU32(4096.5)).toThrow(BadAccessError);
    expect(() => memory.read(0x1000, -1)).toThrow(BadAccessError);
    expect(() => memory.view(2 * MiB - 8, 16)).toThrow(ViewStraddlesSectionError);
    expect(() => memory.writeU8(0x1000, 256)).toThrow(BadAccessError);
    expect(() => memory.writeU32(0x1000, -1)).toThrow(BadAccessError);
    expect(() => memory.writeU64(0x1000, 1 as unknown as bigint)).toThrow(BadAccessError);
  });

  it("matches a byte-array model when reads interleave with small fills (lazy partial fills)", () => {
    const size = 6 * MiB;
    const at = fc.nat(size - 1);
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant("fill" as const),
              at,
              // Small fills are applied at once, larger ones tracked and applied when read.
              length: fc.oneof(fc.nat(12_288), fc.integer({ min: 16_385, max: 300_000 })),
              byte: fc.nat(255),
            }),
            fc.record({ kind: fc.constant("write" as const), at, bytes: fc.uint8Array({ maxLength: 40 }) }),
            fc.record({
              kind: fc.constant("u32" as const),
              at: fc.nat(size - 4),
              value: fc.nat(0xffff_ffff),
            }),
            fc.record({ kind: fc.constant("read" as const), at, length: fc.nat(9000) }),
            fc.record({ kind: fc.constant("peek" as const), at, length: fc.integer({ min: 1, max: 64 }) }),
            fc.record({ kind: fc.constant("readU16" as const), at: fc.nat(size - 2) }),
            fc.record({ kind: fc.constant("view" as const), at, length: fc.integer({ min: 1, max: 64 }) }),
          ),
          { maxLength: 60 },
        ),
        (operations) => {
          const memory = new PhysicalMemory(new MemoryMap([{ base: 0, size, type: "ram" }]));
          const model = new Uint8Array(size);
          // A whole-section poison first, as a kexec does: partial fills then layer over it.
          memory.fill(2 * MiB, 2 * MiB, 0x6b);
          model.fill(0x6b, 2 * MiB, 4 * MiB);
          for (const op of operations) apply(memory, model, op);
          expect(Buffer.compare(memory.read(0, size), model)).toBe(0);
        },
      ),
      { numRuns: 80 },
    );
  });

  it("keeps views live across later fills of their section", () => {
    const memory = new PhysicalMemory(new MemoryMap([{ base: 0, size: 4 * MiB, type: "ram" }]));
    memory.writeU8(0, 1);
    const view = memory.view(0x1000, 16);
    memory.fill(0, 64 * 1024, 0x6b); // larger than a fill done at once in unviewed memory
    expect(view[0]).toBe(0x6b);
    view[0] = 0x42;
    expect(memory.readU8(0x1000)).toBe(0x42);
    expect(memory.readU8(0x2000)).toBe(0x6b);
  });

  it("applies a section's pending fills at once when they fragment (and reads stay exact)", () => {
    const memory = new PhysicalMemory(new MemoryMap([{ base: 0, size: 4 * MiB, type: "ram" }]));
    // 600 small fills of a never-written section: each is tracked, none applied yet.
    for (let i = 0; i < 600; i++) memory.fill(i * 2048, 1024, i % 2 === 0 ? 0x6b : 0x5a);
    expect(memory.backedBytes()).toBe(SECTION_SIZE); // fragmented: applied, so backed
    for (const i of [0, 1, 299, 599]) {
      expect(memory.readU8(i * 2048)).toBe(i % 2 === 0 ? 0x6b : 0x5a);
      expect(memory.readU8(i * 2048 + 1500)).toBe(0);
    }
    expect(memory.readU8(600 * 2048 + 10)).toBe(0);
  });

  it("matches a byte-array model under random writes, fills and copies", () => {
    const size = 8 * MiB;
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant("write" as const),
              at: fc.nat(size - 1),
              bytes: fc.uint8Array({ maxLength: 64 }),
            }),
            fc.record({
              kind: fc.constant("fill" as const),
              at: fc.nat(size - 1),
              length: fc.nat(3 * MiB),
              byte: fc.nat(255),
            }),
            fc.record({
              kind: fc.constant("u64" as const),
              at: fc.nat(size - 8),
              value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
            }),
            fc.record({
              kind: fc.constant("copy" as const),
              from: fc.nat(size - 1),
              to: fc.nat(size - 1),
              length: fc.nat(4096),
            }),
          ),
          { maxLength: 30 },
        ),
        (operations) => {
          const memory = new PhysicalMemory(new MemoryMap([{ base: 0, size, type: "ram" }]));
          const model = new Uint8Array(size);
          for (const op of operations) apply(memory, model, op);
          expect(Buffer.compare(memory.read(0, size), model)).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  describe("bulk copies over several sections (which share one buffer)", () => {
    const size = 12 * MiB;
    const source = pattern(size);

    it("match a byte-array model under multi-section writes and copies, whole-section fills and reads", () => {
      const at = fc.nat(size - 1);
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              fc
                .record({ at, from: fc.nat(size - 1), length: fc.integer({ min: 1, max: 9 * MiB }) })
                .map(({ at, from, length }) => ({
                  kind: "write" as const,
                  at,
                  bytes: source.subarray(from, from + length),
                })),
              fc.record({
                kind: fc.constant("fill" as const),
                at,
                // Whole sections are released (a write then backs them anew), partial ones tracked.
                length: fc.oneof(fc.nat(300_000), fc.integer({ min: SECTION_SIZE, max: 7 * MiB })),
                byte: fc.nat(255),
              }),
              fc.record({
                kind: fc.constant("u64" as const),
                at: fc.nat(size - 8),
                value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
              }),
              fc.record({ kind: fc.constant("read" as const), at, length: fc.nat(9 * MiB) }),
              fc.record({ kind: fc.constant("readU32" as const), at: fc.nat(size - 4) }),
              fc.record({ kind: fc.constant("copy" as const), from: at, to: at, length: fc.nat(9 * MiB) }),
              // Overlapping copies, within a section and across the sections of a shared buffer.
              fc
                .record({
                  from: at,
                  shift: fc.oneof(
                    fc.integer({ min: -8192, max: 8192 }),
                    fc.integer({ min: -3 * MiB, max: 3 * MiB }),
                  ),
                  length: fc.oneof(fc.nat(64 * 1024), fc.nat(9 * MiB)),
                })
                .map(({ from, shift, length }) => ({
                  kind: "copy" as const,
                  from,
                  to: Math.min(size - 1, Math.max(0, from + shift)),
                  length,
                })),
              fc.record({ kind: fc.constant("view" as const), at, length: fc.integer({ min: 1, max: 64 }) }),
            ),
            { maxLength: 25 },
          ),
          (operations) => {
            const memory = new PhysicalMemory(new MemoryMap([{ base: 0, size, type: "ram" }]));
            const model = new Uint8Array(size);
            // Poisoned sections (as after a kexec): a shared buffer must apply their fill byte.
            memory.fill(2 * MiB, 2 * MiB, 0x6b);
            model.fill(0x6b, 2 * MiB, 4 * MiB);
            memory.fill(6 * MiB, 4 * MiB, 0x5a);
            model.fill(0x5a, 6 * MiB, 10 * MiB);
            for (const op of operations) apply(memory, model, op);
            expect(Buffer.compare(memory.read(0, size), model)).toBe(0);
            for (const { base, bytes } of memory.backedSections()) {
              expect(bytes.length).toBe(SECTION_SIZE);
              expect(Buffer.compare(bytes, model.subarray(base, base + SECTION_SIZE))).toBe(0);
            }
          },
        ),
        { numRuns: 40 },
      );
    });

    it("back exactly the sections a write covers, and release them one by one", () => {
      const memory = new PhysicalMemory(new MemoryMap([{ base: 0, size, type: "ram" }]));
      const data = source.subarray(0, 3 * SECTION_SIZE);
      memory.write(SECTION_SIZE + 4096, data); // sections 1-4, partial first and last
      expect(memory.backedBytes()).toBe(4 * SECTION_SIZE);
      memory.fill(2 * SECTION_SIZE, SECTION_SIZE, 0x6b); // releases section 2 only
      expect(memory.backedBytes()).toBe(3 * SECTION_SIZE);
      expect(memory.readU8(2 * SECTION_SIZE + 7)).toBe(0x6b);
      expect([...memory.backedSections()].map((s) => s.base / SECTION_SIZE)).toEqual([1, 3, 4]);
      // The sections around the released one keep their data and stay writable on their own.
      const first = memory.read(SECTION_SIZE + 4096, SECTION_SIZE - 4096);
      expect(Buffer.compare(first, data.subarray(0, SECTION_SIZE - 4096))).toBe(0);
      memory.writeU32(3 * SECTION_SIZE - 2, 0xdeadbeef); // straddles released section 2 and section 3
      expect(memory.readU32(3 * SECTION_SIZE - 2)).toBe(0xdeadbeef);
      expect(memory.readU8(3 * SECTION_SIZE + 2)).toBe(data[2 * SECTION_SIZE - 4096 + 2]);
      expect(memory.backedBytes()).toBe(4 * SECTION_SIZE);
    });
  });

  it("copies never-written (poisoned) sections as their fill byte, without backing them", () => {
    const memory = new PhysicalMemory(new MemoryMap([{ base: 0, size: 16 * MiB, type: "ram" }]));
    memory.fill(0, 8 * MiB, 0x6b); // whole sections: unbacked, read as poison
    memory.fill(8 * MiB + 4096, 8192, 0x5a); // pending in the destination's first section
    memory.copy(8 * MiB + 8192, 4096, 4 * MiB); // overwrites half of that pending range
    expect(memory.backedBytes()).toBe(3 * SECTION_SIZE); // the destination's sections only
    expect(memory.uniformSectionByte(0)).toBe(0x6b);
    expect(memory.readU8(8 * MiB)).toBe(0);
    expect(memory.readU8(8 * MiB + 4096)).toBe(0x5a); // pending, not overwritten: still applies
    expect(memory.readU8(8 * MiB + 8192)).toBe(0x6b);
    expect(memory.readU8(12 * MiB + 8191)).toBe(0x6b);
    expect(memory.readU8(12 * MiB + 8192)).toBe(0);
  });

  it("exports a sparse image whose offsets are physical addresses", () => {
    const machine = new Machine({ memory: "8G" });
    machine.memory.writeU32(5 * GiB + 12, 0xcafef00d);
    const path = join(mkdtempSync(join(tmpdir(), "lu-img-")), "memory.img");
    const written = exportMemoryImage(machine.memory, path);
    const stat = statSync(path);
    expect(stat.size).toBe(machine.memoryMap.end());
    expect(written).toBe(SECTION_SIZE);
    expect(stat.blocks * 512).toBeLessThan(16 * MiB);
  });
});

describe("MemoryMap and sizes", () => {
  it("lays out RAM around the PCI hole like a PC", () => {
    const map = MemoryMap.standardX86(8 * GiB);
    expect(map.totalRam()).toBe(8 * GiB - MiB);
    expect(map.isRam(3 * GiB - 4096, 4096)).toBe(true);
    expect(map.isRam(3 * GiB, 4096)).toBe(false);
    expect(map.isRam(4 * GiB, 4096)).toBe(true);
    expect(map.regionAt(0)?.type).toBe("reserved");
  });

  it("rejects overlapping or unaligned maps", () => {
    expect(
      () =>
        new MemoryMap([
          { base: 0, size: 8192, type: "ram" },
          { base: 4096, size: 8192, type: "ram" },
        ]),
    ).toThrow(MemoryMapError);
    expect(() => new MemoryMap([{ base: 10, size: 4096, type: "ram" }])).toThrow(MemoryMapError);
  });

  it("parses sizes like memparse", () => {
    expect(parseSize("64G")).toBe(64 * GiB);
    expect(parseSize("512M")).toBe(512 * MiB);
    expect(parseSize("0x1000")).toBe(4096);
    expect(parseSize("16MiB")).toBe(16 * MiB);
    expect(() => parseSize("lots")).toThrow(SizeParseError);
  });
});
