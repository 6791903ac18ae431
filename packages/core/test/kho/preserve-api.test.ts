import {
  bootKernel,
  defineKernelBuild,
  FdtBuilder,
  KhoBadOrderError,
  KhoBadSubtreeError,
  KhoDisabledError,
  KhoMisalignedError,
  KhoNotPreservedError,
  KhoSubtreeExistsError,
  kexecBoot,
  Machine,
  MiB,
  PAGE_SIZE,
  splitIntoFolios,
} from "@liveupdate/core";
import { describe, expect, it } from "vitest";

const build = defineKernelBuild({ version: "6.16.0" });
const boot = () => {
  const machine = new Machine({ memory: "1G" });
  return { machine, ...bootKernel(machine, { build, seed: 1 }) };
};

describe("preserve/unpreserve API", () => {
  it("splits ranges into maximal naturally aligned folios of order ≤ 10", () => {
    expect(splitIntoFolios(0x1000, 3 * PAGE_SIZE)).toEqual([
      { phys: 0x1000, order: 0 },
      { phys: 0x2000, order: 1 },
    ]);
    expect(splitIntoFolios(0, 8 * MiB).map((f) => f.order)).toEqual([10, 10]);
  });

  it("preserves a physical range and restores it with the same split", () => {
    const { kernel, kho } = boot();
    const block = kernel.allocPages(10);
    kho.preservePhys(block + PAGE_SIZE, 5 * PAGE_SIZE);
    expect(kho.outgoing.isPreserved(block + PAGE_SIZE, 5 * PAGE_SIZE)).toBe(true);
    expect(kho.outgoing.isPreserved(block, PAGE_SIZE)).toBe(false);
    kho.finalize();
    kernel.kexecLoad(build);
    const next = kexecBoot(kernel.reboot());
    expect(next.kho.incoming!.preservedOrderAt(block + 2 * PAGE_SIZE)).toBe(1);
    expect(() => next.kho.restoreFolio(block + 2 * PAGE_SIZE, 0)).toThrow(/preserved with order 1/);
    next.kho.restorePages(block + PAGE_SIZE, 5);
    expect(next.kho.incoming!.restoredCount).toBe(3 + 1); // three folios plus the root FDT page
  });

  it("lists the preserved memory inside a window, merged and clipped, restored or not", () => {
    const { kernel, kho } = boot();
    const block = kernel.allocPages(10); // 4 MiB, naturally aligned
    kho.preservePages(block, 2); // pages 0-1
    kho.preserveFolio(block + 2 * PAGE_SIZE, 1); // pages 2-3: merged with 0-1
    kho.preserveFolio(block + 8 * PAGE_SIZE, 3); // pages 8-15
    kho.finalize();
    kernel.kexecLoad(build);
    const next = kexecBoot(kernel.reboot());
    const incoming = next.kho.incoming!;
    expect(incoming.preservedRangesIn(block, 4 * MiB)).toEqual([
      { base: block, size: 4 * PAGE_SIZE },
      { base: block + 8 * PAGE_SIZE, size: 8 * PAGE_SIZE },
    ]);
    // Clipped at both ends of the window.
    expect(incoming.preservedRangesIn(block + PAGE_SIZE, 10 * PAGE_SIZE)).toEqual([
      { base: block + PAGE_SIZE, size: 3 * PAGE_SIZE },
      { base: block + 8 * PAGE_SIZE, size: 3 * PAGE_SIZE },
    ]);
    expect(incoming.preservedRangesIn(block + 4 * PAGE_SIZE, 4 * PAGE_SIZE)).toEqual([]);
    // Restoring a folio does not remove it from the list (it was still handed over).
    next.kho.restoreFolio(block + 8 * PAGE_SIZE, 3);
    expect(incoming.preservedRangesIn(block + 8 * PAGE_SIZE, PAGE_SIZE)).toEqual([
      { base: block + 8 * PAGE_SIZE, size: PAGE_SIZE },
    ]);
    expect(incoming.preservedRangesIn(block, 0)).toEqual([]);
    expect(incoming.preservedRangesIn(Number.NaN, PAGE_SIZE)).toEqual([]);
  });

  it("undoes a partial range preservation on error (all or nothing)", () => {
    const { kernel, kho } = boot();
    const block = kernel.allocPages(2);
    kho.preserveFolio(block + 3 * PAGE_SIZE, 0);
    expect(() => kho.preservePages(block, 4)).toThrow();
    expect(kho.outgoing.stats().folios).toBe(1);
    kho.unpreserveFolio(block + 3 * PAGE_SIZE, 0);
    expect(() => kho.unpreserveFolio(block + 3 * PAGE_SIZE, 0)).toThrow(KhoNotPreservedError);
    kho.preservePages(block, 4);
    expect(kho.outgoing.stats().folios).toBe(1);
  });

  it("checks orders and alignment", () => {
    const { kernel, kho } = boot();
    const page = kernel.allocPages(0);
    expect(() => kho.preserveFolio(page, 11)).toThrow(KhoBadOrderError);
    expect(() => kho.preserveFolio(page + 1, 0)).toThrow(KhoMisalignedError);
    expect(() => kho.preservePhys(page, 100)).toThrow(KhoMisalignedError);
  });

  it("validates subtrees: names, duplicates, and that the blob is preserved", () => {
    const { machine, kernel, kho } = boot();
    const blob = new FdtBuilder().beginNode("").propU32("x", 1).endNode().finish();
    kho.publishSubtree("dev", blob);
    expect(() => kho.publishSubtree("dev", blob)).toThrow(KhoSubtreeExistsError);
    expect(() => kho.publishSubtree("bad name!", blob)).toThrow(KhoBadSubtreeError);
    const page = kernel.allocPages(0);
    machine.memory.write(page, blob);
    expect(() => kho.addSubtree("raw", page)).toThrow(KhoBadSubtreeError);
    kho.preserveFolio(page, 0);
    kho.addSubtree("raw", page);
    expect(kho.outgoing.subtreeNames()).toEqual(["dev", "raw"]);
    kho.outgoing.removeSubtree("dev");
    expect(kho.outgoing.subtreeNames()).toEqual(["raw"]);
  });

  it("refuses to preserve when KHO is off", () => {
    const machine = new Machine({ memory: "1G" });
    const { kernel, kho } = bootKernel(machine, { build, cmdline: "kho=off" });
    expect(() => kho.preserveFolio(kernel.allocPages(0), 0)).toThrow(KhoDisabledError);
    expect(() => kho.finalize()).toThrow(KhoDisabledError);
  });
});
