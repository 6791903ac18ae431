import {
  BadAllocationError,
  bootKernel,
  CmdlineError,
  defineKernelBuild,
  KernelGoneError,
  KhoAlreadyRestoredError,
  KhoBadArgumentError,
  KhoNoHandoverError,
  KhoNotPreservedError,
  KhoVmallocError,
  kexecBoot,
  Machine,
  OutOfMemoryError,
  PAGE_SIZE,
  parseScratchPolicy,
} from "@liveupdate/core";
import { describe, expect, it } from "vitest";

const build = defineKernelBuild({ version: "6.16.0" });
const boot = (memory = "512M") => {
  const machine = new Machine({ memory });
  return { machine, ...bootKernel(machine, { build, seed: 1 }) };
};

describe("KHO operations are all or nothing", () => {
  it("a finalize that runs out of memory leaves KHO as it was, and can be retried", () => {
    const { kernel, kho } = boot();
    const folio = kernel.allocPages(0);
    kho.preserveFolio(folio, 0);
    kho.finalize();
    kho.abort();
    const before = kho.outgoing.stats();
    const hoard: number[] = [];
    for (;;) {
      try {
        hoard.push(kernel.allocPages(0));
      } catch (error) {
        expect(error).toBeInstanceOf(OutOfMemoryError);
        break;
      }
    }
    expect(() => kho.finalize()).toThrow(OutOfMemoryError);
    expect(kho.outgoing.isFinalized).toBe(false);
    expect(kho.outgoing.stats()).toEqual(before);
    kernel.freePages(hoard.pop()!, 0);
    kho.finalize();
    expect(kho.outgoing.isFinalized).toBe(true);
  });

  it("unpreservePages checks every folio before clearing any", () => {
    const { kernel, kho } = boot();
    const block = kernel.allocPages(2);
    kho.preservePages(block, 4);
    kho.unpreserveFolio(block, 2);
    kho.preserveFolio(block, 0);
    expect(() => kho.outgoing.unpreservePages(block, 4)).toThrow(KhoNotPreservedError);
    expect(kho.outgoing.isPreserved(block, PAGE_SIZE)).toBe(true);
    expect(() => kho.outgoing.unpreservePages(block, -1)).toThrow(KhoBadArgumentError);
    expect(() => kho.outgoing.unpreservePhys(block, 0)).toThrow(KhoBadArgumentError);
  });

  it("restorePages and restoreVmalloc take nothing when any part fails", () => {
    const { kernel, kho } = boot();
    const block = kernel.allocPages(3);
    kho.preservePages(block, 8);
    const blocks = [kernel.allocPages(0), kernel.allocPages(0), kernel.allocPages(0)];
    const vmalloc = kho.preserveVmalloc(blocks);
    kho.finalize();
    kernel.kexecLoad(build);
    const next = kexecBoot(kernel.reboot());
    expect(() => next.kho.restorePages(block, 16)).toThrow(KhoNotPreservedError);
    expect(next.kho.incoming!.isRestored(block, 3)).toBe(false);
    expect(() => next.kho.restorePages(block, Number.NaN)).toThrow(KhoBadArgumentError);
    next.kho.restorePages(block, 8);
    expect(() => next.kho.restorePages(block, 8)).toThrow(KhoAlreadyRestoredError);

    expect(() => next.kho.restoreVmalloc({ ...vmalloc, totalPages: 4 })).toThrow(KhoVmallocError);
    expect(blocks.some((b) => next.kho.incoming!.isRestored(b, 0))).toBe(false);
    expect(next.kho.restoreVmalloc(vmalloc).blocks).toEqual(blocks);
  });
});

describe("ownership across kexec", () => {
  it("only adopts memory the previous kernel preserved, once", () => {
    const { kernel, kho } = boot();
    const folio = kernel.allocPages(0);
    kho.preserveFolio(folio, 0);
    kho.finalize();
    kernel.kexecLoad(build);
    const next = kexecBoot(kernel.reboot());
    const free = next.kernel.allocPages(0);
    next.kernel.freePages(free, 0);
    expect(() => next.kernel.adoptPages(free, 0)).toThrow(BadAllocationError);
    next.kho.restoreFolio(folio, 0);
    next.kernel.freePages(folio, 0);
    expect(() => next.kernel.adoptPages(folio, 0)).toThrow(BadAllocationError);
  });

  it("keeps the old kernel's machine and memblock out of reach after kexec", () => {
    const { kernel, kho } = boot();
    kho.finalize();
    kernel.kexecLoad(build);
    kernel.reboot();
    expect(() => kernel.machine).toThrow(KernelGoneError);
    expect(() => kernel.memblock).toThrow(KernelGoneError);
    expect(() => kho.outgoing.isPreserved(0x100000, PAGE_SIZE)).toThrow(KernelGoneError);
  });

  it("says there is no handover on a cold boot", () => {
    const { kho } = boot();
    expect(() => kho.restoreFolio(0x100000, 0)).toThrow(KhoNoHandoverError);
    expect(() => kho.retrieveSubtree("x")).toThrow(KhoNoHandoverError);
  });

  it("refuses kho_scratch values the next kernel could not use", () => {
    expect(() => parseScratchPolicy("16M,4097,0")).toThrow(CmdlineError);
    expect(() => parseScratchPolicy("0%")).toThrow(CmdlineError);
  });
});
