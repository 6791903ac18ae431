import {
  bootKernel,
  defineKernelBuild,
  encodeVmallocDescriptor,
  KHO_VMALLOC_CHUNK,
  KhoVmallocError,
  kexecBoot,
  Machine,
  PAGE_SIZE,
  Prng,
} from "@liveupdate/core";
import { describe, expect, it } from "vitest";

const build = defineKernelBuild({ version: "6.16.0" });

describe("vmalloc preservation", () => {
  it("hands over non-contiguous pages listed in preserved chunk pages, in order", () => {
    const machine = new Machine({ memory: "1G" });
    const { kernel, kho } = bootKernel(machine, { build, seed: 1 });
    const rng = new Prng(5);
    // 600 blocks need two kho_vmalloc_chunk pages (511 entries each).
    const blocks = Array.from({ length: 600 }, () => kernel.allocPages(0));
    blocks.reverse();
    const contents = blocks.map((block) => {
      const data = new Uint8Array(PAGE_SIZE);
      rng.fill(data);
      machine.memory.write(block, data);
      return data;
    });
    const descriptor = kho.preserveVmalloc(blocks);
    expect(descriptor.totalPages).toBe(600);
    expect(descriptor.bytes).toHaveLength(16);
    kho.finalize();
    kernel.kexecLoad(build);
    const next = kexecBoot(kernel.reboot(), { seed: 2 });
    const area = next.kho.restoreVmalloc(descriptor.bytes);
    expect(area.blocks).toEqual(blocks);
    area.blocks.forEach((block, i) => {
      expect(Buffer.compare(machine.memory.read(block, PAGE_SIZE), contents[i]!)).toBe(0);
    });
  });

  it("refuses descriptors that do not match what was preserved", () => {
    const machine = new Machine({ memory: "1G" });
    const { kernel, kho } = bootKernel(machine, { build, seed: 1 });
    const blocks = [kernel.allocPages(0), kernel.allocPages(0)];
    const descriptor = kho.preserveVmalloc(blocks);
    kho.finalize();
    kernel.kexecLoad(build);
    const next = kexecBoot(kernel.reboot());
    expect(() => next.kho.restoreVmalloc({ ...descriptor, flags: 0x80 })).toThrow(KhoVmallocError);
    expect(() => next.kho.restoreVmalloc({ ...descriptor, totalPages: 3 })).toThrow(KhoVmallocError);
    expect(() =>
      next.kho.restoreVmalloc(encodeVmallocDescriptor({ ...descriptor, first: blocks[0]! })),
    ).toThrow();
    expect(KHO_VMALLOC_CHUNK.entries).toBe(511);
  });
});
