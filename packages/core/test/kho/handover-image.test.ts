import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  bootKernel,
  defineKernelBuild,
  exportMemoryImage,
  FdtBuilder,
  GiB,
  KhoBadSubtreeError,
  KhoCorruptHandoverError,
  Machine,
  MemoryImageError,
  MemoryMap,
  openMemoryImage,
  Prng,
  readKhoHandover,
} from "@liveupdate/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const v1 = defineKernelBuild({ version: "6.16.0-a" });
const v2 = defineKernelBuild({ version: "6.16.0-b" });

/** Preserves `orders.length` filled folios and a subtree, reboots, and exports the memory image. */
function handoverImage(orders: readonly number[]) {
  const machine = new Machine({ memory: "2G" });
  const { kernel, kho } = bootKernel(machine, { build: v1, seed: 3 });
  const rng = new Prng(5);
  const folios = orders.map((order) => {
    const phys = kernel.allocPages(order);
    const bytes = new Uint8Array(4096 << order);
    rng.fill(bytes);
    machine.memory.write(phys, bytes);
    kho.preserveFolio(phys, order);
    return { phys, order, bytes };
  });
  kho.publishSubtree(
    "test",
    new FdtBuilder().beginNode("").propString("compatible", "test-v1").endNode().finish(),
  );
  kho.finalize();
  kernel.kexecLoad(v2);
  const bootData = kernel.reboot().bootData!;
  const path = join(mkdtempSync(join(tmpdir(), "lu-image-")), "memory.img");
  exportMemoryImage(machine.memory, path);
  return { machine, bootData, path, folios };
}

describe("offline memory images", () => {
  it("read back exactly what was exported, section by section on first access", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 1, maxLength: 6 }), (orders) => {
        const { machine, path, folios } = handoverImage(orders);
        const memory = openMemoryImage(path, machine.memoryMap);
        expect(memory.backedBytes()).toBe(0);
        // (Buffer.equals: vitest's deep equality is slow on megabytes.)
        for (const f of folios)
          expect(Buffer.from(memory.read(f.phys, f.bytes.length)).equals(f.bytes)).toBe(true);
        // Only the sections read were loaded, not the whole 2 GiB.
        expect(memory.backedBytes()).toBeLessThan(machine.memory.backedBytes() + 1);
        expect(memory.backedBytes()).toBeGreaterThan(0);
      }),
      { numRuns: 5 },
    );
  });

  it("refuses an image longer than the memory map and a missing file, naming the path", () => {
    const { path } = handoverImage([0]);
    expect(statSync(path).size).toBe(2 * GiB);
    expect(() => openMemoryImage(path, MemoryMap.standardX86(1 * GiB))).toThrow(MemoryImageError);
    expect(() => openMemoryImage(`${path}.missing`, MemoryMap.standardX86(2 * GiB))).toThrow(
      expect.objectContaining({ code: "HW_BAD_MEMORY_IMAGE", context: { path: `${path}.missing` } }),
    );
  });
});

describe("readKhoHandover", () => {
  it("reads the handover of an image as the next kernel would, without booting one", () => {
    const orders = [0, 3, 3, 10];
    const { machine, bootData, path, folios } = handoverImage(orders);
    const image = readKhoHandover(openMemoryImage(path, machine.memoryMap), bootData);
    expect(image.subtrees.map((s) => s.name)).toEqual(["test"]);
    expect(image.subtrees[0]!.tree.root.getString("compatible")).toBe("test-v1");
    expect(image.scratch.length).toBeGreaterThan(0);
    // Data folios plus the subtree blob and the root FDT page (order 0 each).
    expect(image.memoryMap.folioCounts[0]).toBe(1 + 2);
    expect(image.memoryMap.folioCounts[3]).toBe(2);
    expect(image.memoryMap.folioCounts[10]).toBe(1);
    for (const f of folios) expect(image.isPreserved(f.phys, f.bytes.length)).toBe(true);
  });

  it("names the structure and field of a corrupted memory map or subtree", () => {
    const { machine, bootData, path } = handoverImage([2]);
    const memory = openMemoryImage(path, machine.memoryMap);
    const first = readKhoHandover(memory, bootData).memoryMap.chunks[0]!;
    const order = memory.readU32(first + 8);
    memory.writeU32(first + 8, 99); // khoser_mem_chunk.order
    expect(() => readKhoHandover(memory, bootData)).toThrow(
      expect.objectContaining({
        code: "KHO_CORRUPT_HANDOVER",
        context: expect.objectContaining({ field: "order", phys: first }),
      }),
    );
    memory.writeU32(first + 8, order);
    const subtree = readKhoHandover(memory, bootData).subtrees[0]!;
    memory.writeU32(subtree.phys, 0);
    expect(() => readKhoHandover(memory, bootData)).toThrow(KhoBadSubtreeError);
    // Not a KHO root at all.
    writeFileSync(path, new Uint8Array(16));
    expect(() => readKhoHandover(openMemoryImage(path, machine.memoryMap), bootData)).toThrow(
      KhoCorruptHandoverError,
    );
  });
});
