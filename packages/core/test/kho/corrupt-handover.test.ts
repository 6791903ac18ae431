import {
  type BootData,
  bootKernel,
  decodeFdt,
  defineKernelBuild,
  type KexecHandoff,
  KHOSER_MEM_CHUNK_HDR,
  KhoCorruptHandoverError,
  KhoNotPreservedError,
  kexecBoot,
  LiveUpdateError,
  Machine,
  Prng,
} from "@liveupdate/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const build = defineKernelBuild({ version: "6.16.0" });

/** A finished handover with a few folios of several orders, ready to be corrupted. */
function handover(seed = 1): {
  handoff: KexecHandoff;
  bootData: BootData;
  folios: Array<{ phys: number; order: number }>;
} {
  const machine = new Machine({ memory: "512M" });
  const { kernel, kho } = bootKernel(machine, { build, seed });
  const rng = new Prng(seed);
  const folios = Array.from({ length: 12 }, () => {
    const order = rng.int(0, 10);
    return { phys: kernel.allocPages(order), order };
  });
  for (const f of folios) kho.preserveFolio(f.phys, f.order);
  kho.finalize();
  kernel.kexecLoad(build);
  const handoff = kernel.reboot();
  return { handoff, bootData: handoff.bootData!, folios };
}

function expectCorrupt(handoff: KexecHandoff, field: string): void {
  let thrown: unknown;
  try {
    kexecBoot(handoff);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(KhoCorruptHandoverError);
  expect((thrown as KhoCorruptHandoverError).context.field).toBe(field);
}

/** Chunk pages of the handover, found the way an independent reader would: FDT, then `next` links. */
function chunkPages(handoff: KexecHandoff): number[] {
  const memory = handoff.machine.memory;
  const root = decodeFdt(memory.read(handoff.bootData!.fdtAddr, 4096)).root;
  const pages: number[] = [];
  for (let chunk = Number(root.getU64le("preserved-memory-map")); chunk !== 0; ) {
    pages.push(chunk);
    chunk = Number(memory.readU64(chunk + KHOSER_MEM_CHUNK_HDR.next));
  }
  return pages;
}

function firstChunk(handoff: KexecHandoff): number {
  return chunkPages(handoff)[0]!;
}

describe("a corrupt handover is refused with a typed error naming the field", () => {
  it("catches a cycle in the chunk list", () => {
    const { handoff } = handover();
    const chunk = firstChunk(handoff);
    handoff.machine.memory.writeU64(chunk + KHOSER_MEM_CHUNK_HDR.next, BigInt(chunk));
    expectCorrupt(handoff, "next");
  });

  it("catches bad orders, counts and bitmap pointers", () => {
    const cases: Array<[number, (phys: number) => bigint | number, string, "u32" | "u64"]> = [
      [KHOSER_MEM_CHUNK_HDR.order, () => 11, "order", "u32"],
      [KHOSER_MEM_CHUNK_HDR.numElms, () => 256, "num_elms", "u32"],
      [KHOSER_MEM_CHUNK_HDR.size + 8, () => 0x7fff_ffff_0000n, "bitmap", "u64"],
      [KHOSER_MEM_CHUNK_HDR.size + 8, () => 3n, "bitmap", "u64"],
      [KHOSER_MEM_CHUNK_HDR.size, () => 12345n, "phys_start", "u64"],
    ];
    for (const [offset, value, field, width] of cases) {
      const { handoff } = handover();
      const chunk = firstChunk(handoff);
      const v = value(chunk);
      if (width === "u32") handoff.machine.memory.writeU32(chunk + offset, Number(v));
      else handoff.machine.memory.writeU64(chunk + offset, BigInt(v));
      expectCorrupt(handoff, field);
    }
  });

  it("catches a wrong compatible and broken boot data", () => {
    const { handoff, bootData } = handover();
    const fdt = handoff.machine.memory.read(bootData.fdtAddr, 4096);
    const at = Buffer.from(fdt).indexOf("kho-v1");
    handoff.machine.memory.writeU8(bootData.fdtAddr + at + 5, "2".charCodeAt(0));
    expectCorrupt(handoff, "compatible");
    expectCorrupt({ ...handoff, bootData: { ...bootData, scratchSize: 17 } }, "scratch_size");
    expectCorrupt({ ...handoff, bootData: { ...bootData, fdtAddr: 3.5 * 2 ** 30 } }, "fdt_addr");
  });

  it("catches folios of different orders that overlap", () => {
    const { handoff, folios } = handover(3);
    const big = folios.find((f) => f.order >= 1)!;
    // Add an order-0 bit inside the big folio, in an order-0 bitmap whose window covers it.
    const chunks = chunkPages(handoff);
    const memory = handoff.machine.memory;
    for (const chunk of chunks) {
      if (memory.readU32(chunk + KHOSER_MEM_CHUNK_HDR.order) !== 0) continue;
      const bitmap = Number(memory.readU64(chunk + KHOSER_MEM_CHUNK_HDR.size + 8));
      const start = Number(memory.readU64(chunk + KHOSER_MEM_CHUNK_HDR.size));
      const bit = (big.phys - start) / 4096;
      if (bit < 0 || bit >= 4096) continue;
      memory.writeU8(bitmap + (bit >> 3), memory.readU8(bitmap + (bit >> 3)) | (1 << (bit & 7)));
      expectCorrupt(handoff, "bit");
      return;
    }
    // No order-0 window covers it in this layout: the seed is chosen so that one does.
    throw new Error("test setup: no order-0 bitmap window covers the big folio");
  });

  it("fuzz: random corruption of chunks, bitmaps and the FDT yields a typed error or exactly the listed folios", () => {
    const base = handover(7);
    const pageCount = metadataPages(base.handoff).length;
    fc.assert(
      fc.property(
        fc.array(fc.record({ page: fc.nat(pageCount - 1), offset: fc.nat(4095), byte: fc.nat(255) }), {
          minLength: 1,
          maxLength: 8,
        }),
        (mutations) => {
          const { handoff } = handover(7);
          const pages = metadataPages(handoff);
          for (const m of mutations) handoff.machine.memory.writeU8(pages[m.page]! + m.offset, m.byte);
          const listed = independentWalk(handoff);
          let next: ReturnType<typeof kexecBoot>;
          try {
            next = kexecBoot(handoff);
          } catch (error) {
            expect(error).toBeInstanceOf(LiveUpdateError);
            expect((error as LiveUpdateError).code).toBe("KHO_CORRUPT_HANDOVER");
            return;
          }
          // Accepted: the new kernel hands out exactly what an independent reading of the (mutated)
          // map lists — every listed folio restores, nothing else in RAM does.
          expect(listed).toBeDefined();
          // (The boot itself already took the root FDT page.)
          for (const f of listed!)
            if (!next.kho.incoming!.isRestored(f.phys, f.order)) next.kho.restoreFolio(f.phys, f.order);
          expect(next.kho.incoming!.restoredCount).toBe(listed!.length);
          expect(next.kho.incoming!.preservedCount).toBe(listed!.length);
          for (const f of base.folios) {
            if (!listed!.some((l) => l.phys === f.phys && l.order === f.order)) {
              expect(() => next.kho.restoreFolio(f.phys, f.order)).toThrow(KhoNotPreservedError);
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

/** Chunk pages, their bitmap pages, and the root FDT page: everything the next kernel parses. */
function metadataPages(handoff: KexecHandoff): number[] {
  const memory = handoff.machine.memory;
  const pages = new Set<number>([handoff.bootData!.fdtAddr]);
  for (const chunk of chunkPages(handoff)) {
    pages.add(chunk);
    const count = memory.readU32(chunk + KHOSER_MEM_CHUNK_HDR.numElms);
    for (let i = 0; i < count; i++) {
      const bitmap = Number(memory.readU64(chunk + KHOSER_MEM_CHUNK_HDR.size + i * 16 + 8));
      pages.add(bitmap - (bitmap % 4096));
    }
  }
  return [...pages].sort((a, b) => a - b);
}

/**
 * A second, deliberately naive reader of the kho-v1 map (no validation beyond what it needs to
 * terminate): the folios it lists, or undefined when it cannot even walk the map.
 */
function independentWalk(handoff: KexecHandoff): Array<{ phys: number; order: number }> | undefined {
  const memory = handoff.machine.memory;
  try {
    const root = decodeFdt(memory.read(handoff.bootData!.fdtAddr, 4096)).root;
    const folios: Array<{ phys: number; order: number }> = [];
    const seen = new Set<number>();
    for (let chunk = Number(root.getU64le("preserved-memory-map")); chunk !== 0; ) {
      if (seen.has(chunk)) return undefined;
      seen.add(chunk);
      const order = memory.readU32(chunk + 8);
      const count = memory.readU32(chunk + 12);
      for (let i = 0; i < Math.min(count, 255); i++) {
        const start = Number(memory.readU64(chunk + 16 + i * 16));
        const bitmap = Number(memory.readU64(chunk + 16 + i * 16 + 8));
        const bits = memory.read(bitmap, 512);
        for (let b = 0; b < 4096; b++) {
          if (bits[b >> 3]! & (1 << (b & 7))) folios.push({ phys: start + b * 4096 * 2 ** order, order });
        }
      }
      chunk = Number(memory.readU64(chunk));
    }
    return folios;
  } catch {
    return undefined;
  }
}
