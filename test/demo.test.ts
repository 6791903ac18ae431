import { type DemoReport, runDemo, VMM_BUILD_A, VMM_BUILD_B } from "@liveupdate/cli";
import { describe, expect, it } from "vitest";

/** The reference scenario, scaled down for tests: 3 VMs of 256 MiB on a 4 GiB host. */
const small = { memory: "4G", vmMemory: "256M" } as const;

function expectAllChecksPass(report: DemoReport): void {
  expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  expect(report.result).toBe("PASS");
  for (const vm of report.vms) expect(vm.checksumAfter).toBe(vm.checksumExpected);
  expect(report.dma.faults).toBe(0);
  expect(report.dma.untranslated).toBe(0);
  expect(report.dma.completedBlackout).toBeGreaterThan(0);
  expect(report.interrupts.lost).toBe(0);
  expect(report.resets).toBe(0);
}

const version = (r: DemoReport, driver: string) => r.negotiated.find((n) => n.name === driver);

describe("liveupdate demo, end to end", () => {
  it("upgrades A → B: guestmemfs and vfio-pci state written at v1 and restored as v2", () => {
    const { report } = runDemo({ ...small, seed: 3 });
    expectAllChecksPass(report);
    expect([report.from, report.to]).toEqual([VMM_BUILD_A, VMM_BUILD_B]);
    expect(version(report, "guestmemfs")).toEqual({ name: "guestmemfs", written: 1, read: 2 });
    expect(version(report, "vfio-pci")).toEqual({ name: "vfio-pci", written: 1, read: 2 });
    expect(version(report, "iommufd")).toEqual({ name: "iommufd", written: 2, read: 2 });
    expect(report.vms.map((vm) => vm.viommu)).toEqual([false, false, true]);
    expect(report.vms[0]!.checksumAfter).not.toBe(report.vms[0]!.checksumBefore); // the devices wrote
    // The JSON report carries the fields the issue names.
    for (const key of [
      "blackoutNs",
      "brownoutNs",
      "handoverBytes",
      "negotiated",
      "vms",
      "dma",
      "interrupts",
      "resets",
      "drivers",
    ])
      expect(report).toHaveProperty(key);
    expect(report.drivers.map((d) => d.name)).toEqual(
      expect.arrayContaining(["guestmemfs", "iommufd", "vfio-pci", "pci"]),
    );
    expect(report.drivers.find((d) => d.name === "vfio-pci")).toMatchObject({ objects: 3 });
    expect(report.blackoutNs).toBeGreaterThan(0);
    const spans = report.updates[0]!.timeline.spans;
    expect(spans.some((s) => s.phase === "brownout" && s.hook === "prepare")).toBe(true);
    expect(spans.some((s) => s.phase === "blackout" && s.hook === "restore")).toBe(true);
  });

  it("downgrades B → A: v2 state written at v1 for the older build", () => {
    const { report } = runDemo({ ...small, from: VMM_BUILD_B, to: VMM_BUILD_A });
    expectAllChecksPass(report);
    expect(version(report, "vfio-pci")).toEqual({ name: "vfio-pci", written: 1, read: 1 });
    expect(version(report, "guestmemfs")).toEqual({ name: "guestmemfs", written: 1, read: 1 });
  });

  it("runs three consecutive updates, alternating builds, with every check holding over the whole chain", () => {
    const { report } = runDemo({ ...small, updates: 3, seed: 5 });
    expectAllChecksPass(report);
    expect(report.updates.map((u) => `${u.from}→${u.to}`)).toEqual([
      `${VMM_BUILD_A}→${VMM_BUILD_B}`,
      `${VMM_BUILD_B}→${VMM_BUILD_A}`,
      `${VMM_BUILD_A}→${VMM_BUILD_B}`,
    ]);
    expect(report.to).toBe(VMM_BUILD_B);
    expect(report.blackoutNs).toBe(Math.max(...report.updates.map((u) => u.blackoutNs)));
  });

  for (const failAt of ["prepare", "serialize", "freeze"]) {
    it(`--fail-at ${failAt}: the update is cancelled, the old kernel intact, the VMs' memory and DMA untouched, FAIL`, () => {
      const { report } = runDemo({ ...small, failAt });
      expect(report.result).toBe("FAIL");
      expect(report.failure).toMatchObject({
        stage: failAt === "prepare" || failAt === "serialize" ? "prepare" : "freeze",
        oldKernelIntact: true,
      });
      expect(report.failure!.code).toBe("LUO_HOOK_FAILED");
      expect(report.failure!.message).toContain("injected fault");
      expect(report.updates).toEqual([]);
      const failed = report.checks.filter((c) => !c.ok).map((c) => c.name);
      expect(failed).toEqual(["update"]); // everything else held: memory, faults, interrupts, resets
      for (const vm of report.vms) expect(vm.checksumAfter).toBe(vm.checksumExpected);
    });
  }

  it("refuses bad options with a typed error naming the option", () => {
    expect(() => runDemo({ ...small, from: "6.0.0-nope" })).toThrow(
      expect.objectContaining({
        code: "CLI_DEMO_OPTIONS",
        context: expect.objectContaining({ option: "--from" }),
      }),
    );
    expect(() => runDemo({ memory: "4G", vmMemory: "2G" })).toThrow(
      expect.objectContaining({ context: expect.objectContaining({ option: "--memory" }) }),
    );
    expect(() => runDemo({ ...small, failAt: "restore" })).toThrow(
      expect.objectContaining({ context: expect.objectContaining({ option: "--fail-at" }) }),
    );
  });
});
