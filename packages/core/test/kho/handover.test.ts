import {
  bootKernel,
  defineKernelBuild,
  FdtBuilder,
  KernelGoneError,
  KhoAlreadyRestoredError,
  KhoFinalizedError,
  KhoInScratchError,
  KhoMemoryFreeError,
  KhoNotPreservedError,
  KhoNotRamError,
  KhoOverlapError,
  KhoSubtreeNotFoundError,
  kexecBoot,
  Machine,
  MiB,
  PAGE_SIZE,
  POISON_BYTE,
  Prng,
} from "@liveupdate/core";
import { describe, expect, it } from "vitest";

const v1 = defineKernelBuild({ version: "6.16.0-a" });
const v2 = defineKernelBuild({ version: "6.16.0-b" });

function boot() {
  const machine = new Machine({ memory: "2G" });
  return { machine, ...bootKernel(machine, { build: v1, seed: 1 }) };
}

describe("KHO handover across kexec", () => {
  it("keeps preserved folios bit for bit and poisons everything else", () => {
    const { machine, kernel, kho } = boot();
    const kept = kernel.allocPages(9);
    const lost = kernel.allocPages(0);
    const data = new Uint8Array(2 * MiB);
    new Prng(7).fill(data);
    machine.memory.write(kept, data);
    machine.memory.writeU32(lost, 0x12345678);
    kho.preserveFolio(kept, 9);
    kho.finalize();
    kernel.kexecLoad(v2);
    const handoff = kernel.reboot();
    expect(handoff.bootData).toBeDefined();
    expect(machine.memory.readU8(lost)).toBe(POISON_BYTE);

    const next = kexecBoot(handoff, { seed: 2 });
    expect(next.kernel.bootId).toBe(2);
    expect(next.kernel.layout.directMapBase).not.toBe(kernel.layout.directMapBase);
    next.kho.restoreFolio(kept, 9);
    expect(Buffer.compare(machine.memory.read(kept, data.length), data)).toBe(0);
    expect(() => next.kho.restoreFolio(kept, 9)).toThrow(KhoAlreadyRestoredError);
    expect(() => next.kho.restoreFolio(lost, 0)).toThrow(KhoNotPreservedError);
    next.kernel.freePages(kept, 9);
  });

  it("refuses preservations that break the rules, with typed errors", () => {
    const { kernel, kho } = boot();
    const page = kernel.allocPages(1);
    kho.preserveFolio(page, 0);
    expect(() => kho.preserveFolio(page, 1)).toThrow(KhoOverlapError);
    expect(() => kho.preserveFolio(page, 0)).toThrow(KhoOverlapError);
    expect(() => kho.preserveFolio(0x1000, 0)).toThrow(KhoNotRamError);
    expect(() => kho.preserveFolio(kho.scratch[0]!.base, 0)).toThrow(KhoInScratchError);
    const free = kernel.allocPages(0);
    kernel.freePages(free, 0);
    expect(() => kho.preserveFolio(free, 0)).toThrow(KhoMemoryFreeError);
    kho.finalize();
    expect(() => kho.preserveFolio(page + PAGE_SIZE, 0)).toThrow(KhoFinalizedError);
    kho.abort();
    kho.preserveFolio(page + PAGE_SIZE, 0);
  });

  it("makes the old kernel unusable after reboot", () => {
    const { kernel, kho } = boot();
    kho.finalize();
    kernel.kexecLoad(v2);
    kernel.reboot();
    expect(() => kernel.allocPages(0)).toThrow(KernelGoneError);
    expect(() => kho.preserveFolio(0x200000, 0)).toThrow(KernelGoneError);
  });

  it("hands subtrees over and survives a chain of kexecs with the same scratch", () => {
    const { kernel, kho } = boot();
    const blob = new FdtBuilder()
      .beginNode("")
      .propString("compatible", "test-v1")
      .propU32("answer", 42)
      .endNode()
      .finish();
    kho.publishSubtree("test", blob);
    kho.finalize();
    kernel.kexecLoad(v2);
    let current = kexecBoot(kernel.reboot());
    const scratch = current.kho.scratch;
    for (let hop = 0; hop < 2; hop++) {
      const subtree = current.kho.retrieveSubtree("test");
      expect(subtree.tree.root.getU32("answer")).toBe(42);
      current.kho.restoreFolio(subtree.phys, 0);
      current.kho.publishSubtree("test", subtree.bytes);
      current.kho.finalize();
      current.kernel.kexecLoad(hop === 0 ? v1 : v2);
      current = kexecBoot(current.kernel.reboot());
      expect(current.kho.scratch).toEqual(scratch);
    }
    expect(current.kernel.bootId).toBe(4);
    expect(() => current.kho.retrieveSubtree("nope")).toThrow(KhoSubtreeNotFoundError);
  });
});
