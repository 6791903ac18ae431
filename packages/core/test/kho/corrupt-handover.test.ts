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

  it("fuzz: random corruption of the metadata yields a typed error or a consistent boot", () => {
    const base = handover(7);
    const metadata = [...chunkPages(base.handoff), base.bootData.fdtAddr];
    fc.assert(
      fc.property(
        fc.array(fc.record({ page: fc.nat(metadata.length - 1), offset: fc.nat(4095), byte: fc.nat(255) }), {
          minLength: 1,
          maxLength: 8,
        }),
        (mutations) => {
          const { handoff, folios } = handover(7);
          const pages = [...chunkPages(handoff), handoff.bootData!.fdtAddr];
          for (const m of mutations) handoff.machine.memory.writeU8(pages[m.page]! + m.offset, m.byte);
          let next: ReturnType<typeof kexecBoot>;
          try {
            next = kexecBoot(handoff);
          } catch (error) {
            expect(error).toBeInstanceOf(LiveUpdateError);
            expect((error as LiveUpdateError).code).toMatch(/^KHO_CORRUPT_HANDOVER$/);
            return;
          }
          // The boot accepted the (possibly altered) map: restoring is allowed exactly for what it lists.
          for (const f of folios) {
            const order = next.kho.incoming!.preservedOrderAt(f.phys);
            if (order === f.order) next.kho.restoreFolio(f.phys, f.order);
            else expect(() => next.kho.restoreFolio(f.phys, f.order)).toThrow(KhoNotPreservedError);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
