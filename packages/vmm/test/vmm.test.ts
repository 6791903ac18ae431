import { describe, expect, it } from "vitest";
import {
  GUEST_LAYOUT,
  RamDigest,
  updateHost,
  VmMemoryCheck,
  VmmConfigError,
  VmmResumeError,
  VmmStateError,
} from "../src/index.js";
import { buildB, host, MiB, SMALL } from "./fixtures.js";

describe("the VMM model", () => {
  it("runs VMs whose devices DMA through iommufd, plain and through a guest's own IOMMU tables", () => {
    const { machine, devices, vmm } = host(2);
    const plain = vmm.createVm({ name: "vm0", memoryBytes: 64 * MiB, devices: ["00:04.0"], workload: SMALL });
    const nested = vmm.createVm({
      name: "vm1",
      memoryBytes: 64 * MiB,
      devices: ["00:05.0"],
      viommu: true,
      workload: SMALL,
      seed: 2,
    });
    for (let i = 0; i < 20; i++) vmm.step(100_000);
    for (const e of devices) {
      expect(e.progress.descriptors.before).toBeGreaterThan(256);
      expect(e.counters.dmaFaults).toBe(0);
    }
    expect(plain.interrupts).toBeGreaterThan(0);
    expect(nested.interrupts).toBeGreaterThan(0);
    // The nested guest's descriptors carry its own IOVAs, translated by its tables, then the host's.
    const walk = machine.iommu.walk({
      requesterId: devices[1]!.requesterId,
      pasid: GUEST_LAYOUT.viommuPasid,
      iova: GUEST_LAYOUT.viommuIovaBase + GUEST_LAYOUT.workloads,
      write: false,
    });
    expect(walk).toMatchObject({ ok: true, phys: nested.file.locate(GUEST_LAYOUT.workloads).phys });
  });

  it("refuses invalid VMs with typed errors", () => {
    const { vmm } = host(1);
    expect(() => vmm.createVm({ name: "bad name", memoryBytes: 64 * MiB, devices: [] })).toThrow(
      VmmConfigError,
    );
    expect(() => vmm.createVm({ name: "small", memoryBytes: 32 * MiB, devices: [] })).toThrow(VmmConfigError);
    expect(() =>
      vmm.createVm({ name: "twice", memoryBytes: 64 * MiB, devices: ["00:04.0", "00:04.0"] }),
    ).toThrow(VmmConfigError);
    const vm = vmm.createVm({ name: "ok", memoryBytes: 64 * MiB, devices: [], workload: SMALL });
    expect(() => vmm.createVm({ name: "ok", memoryBytes: 64 * MiB, devices: [] })).toThrow(VmmConfigError);
    expect(() => vm.resume()).toThrow(VmmStateError);
  });

  it("digests sparse RAM by content: untouched blocks hash as their bytes would", () => {
    const { machine, vmm } = host(0);
    const vm = vmm.createVm({ name: "d", memoryBytes: 64 * MiB, devices: [] });
    const before = RamDigest.of(machine.memory, vm.ram.extents());
    vm.ram.write(40 * MiB, new Uint8Array(16)); // zeroes over zeroes: content unchanged, block now backed
    expect(RamDigest.of(machine.memory, vm.ram.extents()).toString()).toBe(before.toString());
    vm.ram.write(40 * MiB, new Uint8Array([1]));
    expect(RamDigest.of(machine.memory, vm.ram.extents()).toString()).not.toBe(before.toString());
  });

  it("updates the host under running VMs: memory bit-identical apart from DMA, DMA through the blackout, nothing lost or reset", () => {
    const { machine, devices, vmm } = host(3);
    vmm.createVm({ name: "vm0", memoryBytes: 64 * MiB, devices: ["00:04.0", "00:05.0"], workload: SMALL });
    vmm.createVm({
      name: "vm1",
      memoryBytes: 64 * MiB,
      devices: ["00:06.0"],
      viommu: true,
      workload: SMALL,
      seed: 3,
    });
    for (let i = 0; i < 5; i++) vmm.step(100_000);
    vmm.preserveAll();
    const resets = devices.map((e) => e.counters.resets);
    const checks = [...vmm.vms.values()].map((vm) => VmMemoryCheck.begin(vm, machine.memory));
    const result = updateHost(vmm, {
      to: buildB,
      turnNs: 100_000,
      beforeBoot: (_handoff, m) => m.run(200_000), // no kernel at all: the devices keep going
    });
    expect(result.outcome).toBe("updated");
    if (result.outcome !== "updated") return;
    const next = result.vmm;
    for (let i = 0; i < 5; i++) next.step(100_000);
    expect(next.quiesce()).toBe(true);
    for (const c of checks) {
      const r = c.finish(machine.memory);
      expect(r.after).toBe(r.expected);
      expect(r.after).not.toBe(r.before); // the devices did write
    }
    for (const [i, e] of devices.entries()) {
      expect(e.progress.descriptors.brownout).toBeGreaterThan(0);
      expect(e.progress.descriptors.blackout).toBeGreaterThan(0);
      expect(e.progress.descriptors.after).toBeGreaterThan(0);
      expect(e.counters.dmaFaults).toBe(0);
      expect(e.counters.resets).toBe(resets[i]);
      expect(e.interruptCounters).toMatchObject({ lost: 0, pending: 0 });
    }
    expect(result.kernel.timeline.summary().blackoutEnd).toBe("resumed");
    // Guests keep running on the new kernel and the VMM can update again.
    next.preserveAll();
    const again = updateHost(next, { to: buildB });
    expect(again.outcome).toBe("updated");
  });

  it("predicts every byte the device writes, from a mark taken with a descriptor in flight", () => {
    const { machine, vmm } = host(1);
    const vm = vmm.createVm({ name: "vm0", memoryBytes: 64 * MiB, devices: ["00:04.0"], workload: SMALL });
    const w = vm.devices[0]!.workload;
    machine.run(1_500); // 1.5 µs at 1 GB/s: the first 4 KiB copy is under way
    expect(w.idle).toBe(false);
    const from = w.mark();
    for (let i = 0; i < 20; i++) vmm.step(100_000); // more than a ring's worth: the ring wraps
    expect(vmm.quiesce()).toBe(true);
    const to = w.mark();
    expect((to.completed - from.completed) >>> 0).toBeGreaterThan(SMALL.ringSize);
    const writes = w.predictedWrites(from, to);
    expect(writes.length).toBe(SMALL.ringSize + SMALL.destinations);
    for (const p of writes) expect(vm.ram.read(p.gpa, p.bytes.length)).toEqual(p.bytes);
  });

  it("refuses a workload geometry the model cannot predict", () => {
    const { vmm } = host(1);
    expect(() =>
      vmm.createVm({
        name: "odd",
        memoryBytes: 64 * MiB,
        devices: ["00:04.0"],
        workload: { ...SMALL, sources: 24 },
      }),
    ).toThrow(VmmConfigError);
  });

  it("a check catches a byte the update changed", () => {
    const { machine, vmm } = host(1);
    const vm = vmm.createVm({ name: "vm0", memoryBytes: 64 * MiB, devices: ["00:04.0"], workload: SMALL });
    vmm.step(100_000);
    const check = VmMemoryCheck.begin(vm, machine.memory);
    vmm.step(100_000);
    vm.ram.write(50 * MiB + 7, new Uint8Array([0xee])); // not the device's doing
    expect(vmm.quiesce()).toBe(true);
    const r = check.finish(machine.memory);
    expect(r.after).not.toBe(r.expected);
  });

  it("cancels at PREPARED and at FROZEN with the VMs running on the old kernel, DMA uninterrupted", () => {
    for (const cancelAt of ["PREPARED", "FROZEN"] as const) {
      const { machine, devices, vmm } = host(1);
      const vm = vmm.createVm({ name: "vm0", memoryBytes: 64 * MiB, devices: ["00:04.0"], workload: SMALL });
      vmm.preserveAll();
      const check = VmMemoryCheck.begin(vm, machine.memory);
      const r = updateHost(vmm, { to: buildB, cancelAt });
      expect(r).toMatchObject({ outcome: "cancelled", stage: cancelAt, error: undefined });
      expect(r.kernel.luo.phase).toBe("NORMAL");
      expect(vm.running).toBe(true);
      vmm.step(100_000);
      expect(vmm.quiesce()).toBe(true);
      const m = check.finish(machine.memory);
      expect(m.after).toBe(m.expected);
      expect(devices[0]!.counters.dmaFaults).toBe(0);
    }
  });

  it("cannot resume a VM whose session is gone", () => {
    const { vmm } = host(1);
    vmm.createVm({ name: "vm0", memoryBytes: 64 * MiB, devices: ["00:04.0"], workload: SMALL });
    // Not preserved: the new kernel has no session for it.
    const r = updateHost(vmm, { to: buildB });
    expect(r.outcome).toBe("updated");
    expect(r.vmm.vms.size).toBe(0);
    expect(r.vmm.failed.get("vm0")).toBeInstanceOf(VmmResumeError);
    expect(r.vmm.failed.get("vm0")!.cause).toMatchObject({ code: "LUO_SESSION_NOT_FOUND" });
  });
});
