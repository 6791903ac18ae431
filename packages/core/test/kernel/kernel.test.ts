import {
  BootDataError,
  BootStageError,
  bootKernel,
  CmdlineError,
  defineKernelBuild,
  GiB,
  Kernel,
  KernelGoneError,
  KexecNotLoadedError,
  KHO_PRESERVED_LABEL,
  kexecBoot,
  Machine,
  MiB,
  OutOfMemoryError,
  PAGE_SIZE,
  POISON_BYTE,
  Prng,
  parseScratchPolicy,
  readSetupData,
  SETUP_DATA_HEADER,
  SETUP_KEXEC_KHO,
  VirtualLayout,
} from "@liveupdate/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const build = defineKernelBuild({ version: "6.16.0" });

describe("Kernel boot and kexec", () => {
  it("randomises the direct map per boot and converts physical ↔ virtual", () => {
    const machine = new Machine({ memory: "1G" });
    const a = Kernel.boot(machine, { build, seed: 1 });
    const va = a.layout.physToVirt(0x123000);
    expect(VirtualLayout.looksVirtual(va)).toBe(true);
    expect(a.layout.virtToPhys(va)).toBe(0x123000);
    a.kexecLoad(build);
    a.reboot();
    const b = Kernel.boot(machine, { build, seed: 2 });
    expect(b.layout.directMapBase).not.toBe(a.layout.directMapBase);
    expect(b.layout.virtToPhys(va)).not.toBe(0x123000);
  });

  it("keeps kexec load separate from reboot and ends the old kernel", () => {
    const machine = new Machine({ memory: "1G" });
    const kernel = Kernel.boot(machine, { build });
    expect(() => kernel.reboot()).toThrow(KexecNotLoadedError);
    expect(() => Kernel.boot(machine, { build })).toThrow(BootStageError);
    kernel.kexecLoad(build, { cmdline: "quiet" });
    const handoff = kernel.reboot();
    expect(handoff.cmdline).toBe("quiet");
    expect(handoff.bootData).toBeUndefined();
    for (const call of [() => kernel.allocPages(0), () => kernel.kexecLoad(build), () => kernel.reboot()]) {
      expect(call).toThrow(KernelGoneError);
    }
  });

  it("poisons all RAM at reboot when nothing is handed over, and can be told not to", () => {
    for (const poison of [true, false]) {
      const machine = new Machine({ memory: "1G" });
      const kernel = Kernel.boot(machine, { build, poisonOnReboot: poison });
      const page = kernel.allocPages(0);
      machine.memory.writeU8(page, 1);
      kernel.kexecLoad(build);
      kernel.reboot();
      expect(machine.memory.readU8(page)).toBe(poison ? POISON_BYTE : 1);
      expect(machine.memory.readU8(0x1000)).toBe(0); // reserved firmware memory is never touched
    }
  });

  it("never allocates preserved memory in the next kernel", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 1, maxLength: 20 }),
        fc.nat(),
        (orders, seed) => {
          const machine = new Machine({ memory: "256M" });
          const { kernel, kho } = bootKernel(machine, { build, seed });
          const preserved = orders.map((order) => ({ phys: kernel.allocPages(order), order }));
          for (const f of preserved) kho.preserveFolio(f.phys, f.order);
          kho.finalize();
          kernel.kexecLoad(build);
          const next = kexecBoot(kernel.reboot(), { seed: seed + 1 });
          const reserved = next.kernel.memblock.reserved().filter((r) => r.label === KHO_PRESERVED_LABEL);
          for (const f of preserved) {
            expect(
              reserved.some((r) => f.phys >= r.base && f.phys + PAGE_SIZE * 2 ** f.order <= r.base + r.size),
            ).toBe(true);
          }
          // Drain the allocator (largest blocks first): nothing it hands out may touch a preserved folio.
          const clashes: number[] = [];
          for (let order = 10; order >= 0; order--) {
            for (;;) {
              let block: number;
              try {
                block = next.kernel.allocPages(order);
              } catch (error) {
                expect(error).toBeInstanceOf(OutOfMemoryError);
                break;
              }
              const end = block + PAGE_SIZE * 2 ** order;
              if (preserved.some((f) => block < f.phys + PAGE_SIZE * 2 ** f.order && f.phys < end))
                clashes.push(block);
            }
          }
          expect(clashes).toEqual([]);
          expect(next.kernel.freeBytes()).toBe(0);
        },
      ),
      { numRuns: 8 },
    );
  });

  it("allocates only from scratch during a handover boot", () => {
    const machine = new Machine({ memory: "2G" });
    const { kernel, kho } = bootKernel(machine, { build, seed: 3 });
    kho.finalize();
    kernel.kexecLoad(build);
    const next = kexecBoot(kernel.reboot(), { seed: 4 });
    const early = next.kernel.memblock
      .reserved()
      .filter((r) => r.label === "kernel-image" || r.label === "memmap");
    expect(early.length).toBe(2);
    for (const r of early) {
      expect(next.kho.scratch.some((s) => r.base >= s.base && r.base + r.size <= s.base + s.size)).toBe(true);
    }
  });
});

describe("kho_scratch= and scratch sizing", () => {
  it("parses upstream's two forms and rejects the rest", () => {
    expect(parseScratchPolicy(undefined)).toEqual({ kind: "scale", percent: 200 });
    expect(parseScratchPolicy("150%")).toEqual({ kind: "scale", percent: 150 });
    expect(parseScratchPolicy("16M,512M,256M")).toEqual({
      kind: "sizes",
      lowmem: 16 * MiB,
      global: 512 * MiB,
      pernode: 256 * MiB,
    });
    for (const bad of ["", "%", "12345678901%", "16M,512M", "0,0,0", "1x,2,3"]) {
      expect(() => parseScratchPolicy(bad)).toThrow(CmdlineError);
    }
  });

  it("sizes scratch at 200 % of kernel-reserved memory, 2 MiB aligned, and honours explicit sizes", () => {
    const machine = new Machine({ memory: "8G" });
    const { kho, kernel } = bootKernel(machine, { build, seed: 5 });
    const reservedKernel = kernel.memblock.reservedBytes(Number.MAX_SAFE_INTEGER, ["kernel-image", "memmap"]);
    const total = kho.scratch.reduce((sum, s) => sum + s.size, 0);
    expect(total).toBeGreaterThanOrEqual(4 * reservedKernel - 4 * MiB);
    for (const s of kho.scratch) expect(s.base % (2 * MiB)).toBe(0);
    expect(kho.scratch[0]!.base + kho.scratch[0]!.size).toBeLessThanOrEqual(4 * GiB);
    kernel.kexecLoad(build);
    kernel.reboot();

    const explicit = bootKernel(machine, { build, cmdline: "kho=on kho_scratch=16M,512M,256M" });
    expect(explicit.kho.scratch.map((s) => s.size)).toEqual([16 * MiB, 512 * MiB, 256 * MiB]);
  });

  it("keeps KHO off without kho=on", () => {
    const machine = new Machine({ memory: "1G" });
    const { kho } = bootKernel(machine, { build, cmdline: "quiet" });
    expect(kho.enabled).toBe(false);
    expect(kho.scratch).toEqual([]);
  });

  it("boots the same seed to the same layout", () => {
    const rng = new Prng(11);
    const seed = rng.u32();
    expect(Kernel.boot(new Machine({ memory: "1G" }), { build, seed }).layout.directMapBase).toBe(
      Kernel.boot(new Machine({ memory: "1G" }), { build, seed }).layout.directMapBase,
    );
  });
});

describe("virtual addresses in handover data", () => {
  it("are found by findVirtualAddresses, physical ones are not", () => {
    const kernel = Kernel.boot(new Machine({ memory: "1G" }), { build, seed: 9 });
    const blob = new Uint8Array(32);
    const view = new DataView(blob.buffer);
    view.setBigUint64(0, 0x1234000n, true);
    view.setBigUint64(16, kernel.layout.physToVirt(0x1234000), true);
    expect(VirtualLayout.findVirtualAddresses(blob)).toEqual([16]);
  });
});

describe("boot data crosses kexec in memory", () => {
  it("is a setup_data node of type SETUP_KEXEC_KHO that survives poisoning, and a corrupt one is a typed error", () => {
    const machine = new Machine({ memory: "1G" });
    const { kernel, kho } = bootKernel(machine, { build, seed: 21 });
    const report = kho.finalize();
    kernel.kexecLoad(build);
    const handoff = kernel.reboot();
    expect(handoff.setupData).toBeDefined();
    expect(machine.memory.readU32(handoff.setupData! + SETUP_DATA_HEADER.type)).toBe(SETUP_KEXEC_KHO);
    expect(readSetupData(machine.memory, handoff.setupData!)).toEqual(handoff.bootData);
    expect(handoff.bootData!.fdtAddr).toBe(report.fdtPhys);
    machine.memory.writeU32(handoff.setupData! + SETUP_DATA_HEADER.len, 31);
    expect(() => handoff.bootData).toThrow(BootDataError);
  });
});
