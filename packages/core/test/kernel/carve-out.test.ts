import {
  bootKernel,
  CarveOut,
  CarveOutError,
  carveOutsOf,
  declareCarveOut,
  defineKernelBuild,
  GiB,
  Kernel,
  KernelCmdline,
  kexecBoot,
  Machine,
  MiB,
  PAGE_SIZE,
  parseCarveOut,
} from "@liveupdate/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const spec = { label: "guestmemfs", defaultSize: "64M" } as const;
const build = defineKernelBuild({ version: "6.18.0", carveOuts: [spec] });

describe("boot-time carve-outs", () => {
  it("reserves the region in memblock under its label and keeps the page allocator out of it", () => {
    const machine = new Machine({ memory: "1G" });
    const kernel = Kernel.boot(machine, { build });
    const region = kernel.carveOut("guestmemfs")!;
    expect(region).toMatchObject({
      label: "guestmemfs",
      param: "guestmemfs",
      size: 64 * MiB,
      source: "default",
    });
    expect(region.base % (2 * MiB)).toBe(0);
    expect(machine.memoryMap.isRam(region.base, region.size)).toBe(true);
    expect(kernel.memblock.isReservedAs(region.base, region.size, "guestmemfs")).toBe(true);
    expect(kernel.isInUse(region.base, region.size)).toBe(true);
    // Drain the page allocator: no block it hands out touches the region.
    for (;;) {
      let phys: number;
      try {
        phys = kernel.allocPages(10);
      } catch {
        break;
      }
      const size = PAGE_SIZE << 10;
      expect(phys + size <= region.base || phys >= region.base + region.size).toBe(true);
    }
    expect(kernel.pages.isAllocated(region.base, PAGE_SIZE)).toBe(false);
  });

  it("takes its size and base from the command line, which overrides the declared default", () => {
    const machine = new Machine({ memory: "2G" });
    const kernel = Kernel.boot(machine, { build, cmdline: "guestmemfs=128M@0x40000000" });
    expect(kernel.carveOut("guestmemfs")).toMatchObject({
      base: 0x4000_0000,
      size: 128 * MiB,
      source: "cmdline",
    });
  });

  it("carves nothing without a size, and reads sizes from the build's built-in command line", () => {
    const none = defineKernelBuild({ version: "a", carveOuts: [{ label: "guestmemfs" }] });
    expect(
      Kernel.boot(new Machine({ memory: "1G" }), { build: none }).carveOut("guestmemfs"),
    ).toBeUndefined();
    const builtin = defineKernelBuild({
      version: "b",
      carveOuts: [{ label: "guestmemfs" }],
      cmdline: "guestmemfs=32M",
    });
    const kernel = Kernel.boot(new Machine({ memory: "1G" }), { build: builtin, cmdline: "quiet" });
    expect(kernel.carveOut("guestmemfs")?.size).toBe(32 * MiB);
    expect(kernel.cmdline.text).toBe("quiet"); // what kexec passes on: the built-in part is the build's
    expect(new KernelCmdline("a=2", "a=1 b=3").get("a")).toBe("2");
  });

  it("is carved at the same place by the next kernel, and elsewhere when its size differs", () => {
    const machine = new Machine({ memory: "2G" });
    const first = bootKernel(machine, { build, cmdline: "kho=on guestmemfs=256M" });
    const region = first.kernel.carveOut("guestmemfs")!;
    first.kho.finalize();
    first.kernel.kexecLoad(build);
    const second = kexecBoot(first.kernel.reboot());
    expect(second.kernel.carveOut("guestmemfs")).toEqual(region);
    second.kho.finalize();
    second.kernel.kexecLoad(build, { cmdline: "kho=on guestmemfs=128M" });
    const third = kexecBoot(second.kernel.reboot());
    const smaller = third.kernel.carveOut("guestmemfs")!;
    expect(smaller.size).toBe(128 * MiB);
    expect(smaller.base).not.toBe(region.base);
    // Placement is a function of the memory map: both end at the top of RAM.
    expect(smaller.base + smaller.size).toBe(region.base + region.size);
  });

  it("refuses malformed, unaligned, oversized and overlapping carve-outs with a typed error", () => {
    const boot =
      (cmdline: string, memory = "1G") =>
      () =>
        Kernel.boot(new Machine({ memory }), { build, cmdline });
    for (const [cmdline, field] of [
      ["guestmemfs=lots", "value"],
      ["guestmemfs=3M", "size"],
      ["guestmemfs=0", "size"],
      ["guestmemfs=64M@0x100000", "base"],
      ["guestmemfs=2G", "size"],
      ["guestmemfs=64M@0x1000000000", "size"],
    ] as const) {
      expect(boot(cmdline), cmdline).toThrow(CarveOutError);
      try {
        boot(cmdline)();
      } catch (error) {
        expect((error as CarveOutError).context).toMatchObject({ label: "guestmemfs", field });
      }
    }
    // Two carve-outs at one place.
    const two = defineKernelBuild({
      version: "two",
      carveOuts: [spec, { label: "pmem", param: "pmem", defaultSize: "64M" }],
      cmdline: "pmem=64M@0x20000000 guestmemfs=64M@0x20000000",
    });
    expect(() => Kernel.boot(new Machine({ memory: "1G" }), { build: two })).toThrow(CarveOutError);
  });

  it("stacks several carve-outs top-down without overlap (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 32 }), { minLength: 1, maxLength: 4 }), (sizes) => {
        const specs = sizes.map((n, i) => ({ label: `c${i}`, defaultSize: n * 2 * MiB }));
        const kernel = Kernel.boot(new Machine({ memory: "1G" }), {
          build: defineKernelBuild({ version: "p", carveOuts: specs }),
        });
        const regions = kernel.carveOuts;
        expect(regions.map((r) => r.size)).toEqual(sizes.map((n) => n * 2 * MiB));
        for (let i = 1; i < regions.length; i++) {
          expect(regions[i]!.base + regions[i]!.size).toBeLessThanOrEqual(regions[i - 1]!.base);
        }
      }),
      { numRuns: 25 },
    );
  });

  it("is declared by a driver class (inherited by subclasses) and collected by its kernel builds", () => {
    @CarveOut({ label: "vmem", defaultSize: "16M" })
    class VmemDriver {}
    class VmemDriverV1 extends VmemDriver {}
    class Other {}
    declareCarveOut(Other, { label: "vmem", defaultSize: "8M" });
    expect(carveOutsOf(VmemDriverV1)).toEqual([{ label: "vmem", defaultSize: "16M" }]);
    const b = defineKernelBuild({ version: "d", drivers: [VmemDriver, VmemDriverV1, Other] });
    expect(b.carveOuts).toEqual([{ label: "vmem", defaultSize: "16M" }]);
    const kernel = Kernel.boot(new Machine({ memory: "1G" }), { build: b });
    expect(kernel.carveOut("vmem")?.size).toBe(16 * MiB);
    expect(parseCarveOut("vmem", "1G@4G")).toEqual({ size: GiB, base: 4 * GiB });
  });
});
