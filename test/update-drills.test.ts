import { VMM_BUILDS } from "@liveupdate/cli";
import {
  bootLiveUpdateKernel,
  DmaEngine,
  defineKernelBuild,
  type KernelBuild,
  LuoHookFailedError,
  LuoNegotiationRefusedError,
  Machine,
  pciRegs,
  SchemaDowngradeRefusedError,
} from "@liveupdate/core";
import { withRestorePolicy } from "@liveupdate/core/testkit";
import { IommufdDriver, IommufdLeafOutsideMappingError } from "@liveupdate/drivers-iommufd";
import { VfioDeviceMismatchError, VfioPciDriver } from "@liveupdate/drivers-vfio";
import { GuestmemfsDriver } from "@liveupdate/guestmemfs";
import { type HostUpdated, updateHost, type Vm, VmMemoryCheck, Vmm } from "@liveupdate/vmm";
import { describe, expect, it } from "vitest";

const [buildA, buildB] = VMM_BUILDS.builds as [KernelBuild, KernelBuild];
const MiB = 2 ** 20;
const SMALL = { ringSize: 256, chunk: 4096, sources: 16, destinations: 8 } as const;

/** A 2 GiB host on a manual clock with `n` VMs of 64 MiB, one DMA engine each (the last with a vIOMMU). */
function host(n: number, from: KernelBuild = buildA) {
  const machine = new Machine({ memory: "2G", manualClock: true, scheduler: { seed: 7 } });
  const engines = Array.from({ length: n }, (_, i) => {
    const e = new DmaEngine({ bandwidth: 1e9 });
    machine.pci.attach(e, `00:0${4 + i}.0`);
    return e;
  });
  const lk = bootLiveUpdateKernel(machine, { build: from, cmdline: "kho=on guestmemfs=512M" });
  const vmm = new Vmm(lk);
  const vms = engines.map((e, i) =>
    vmm.createVm({
      name: `vm${i}`,
      memoryBytes: 64 * MiB,
      devices: [e.name],
      viommu: i === n - 1 && n > 1,
      workload: SMALL,
      seed: i + 1,
    }),
  );
  for (let t = 0; t < 4; t++) vmm.step(100_000);
  return { machine, engines, vmm, vms };
}

/** The error and its causes, outermost first. */
function causes(error: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = error; e !== undefined; e = (e as Error).cause) out.push(e);
  return out;
}

function expectIntact(machine: Machine, checks: Map<Vm, VmMemoryCheck>, vmm: Vmm): void {
  vmm.step(100_000);
  expect(vmm.quiesce()).toBe(true);
  for (const [vm, check] of checks) {
    const r = check.finish(machine.memory);
    expect(r.after, vm.name).toBe(r.expected);
  }
}

describe("update drills under running VMs", () => {
  it("refuses the lossy downgrade B → A of a masked vector before anything freezes, naming the field", () => {
    const { machine, engines, vmm, vms } = host(2, buildB);
    const vm = vms[0]!;
    vm.vfio.setVectorMask(vm.devices[0]!.device, 0, true);
    vmm.preserveAll();
    const checks = new Map(vms.map((v) => [v, VmMemoryCheck.begin(v, machine.memory)]));
    const r = updateHost(vmm, { to: buildA });
    expect(r.outcome).toBe("cancelled");
    if (r.outcome !== "cancelled") return;
    expect(r.stage).toBe("prepare");
    expect(r.error).toBeInstanceOf(LuoHookFailedError);
    const refusal = causes(r.error).find(
      (e) => e instanceof SchemaDowngradeRefusedError,
    ) as SchemaDowngradeRefusedError;
    expect(refusal.context).toMatchObject({ path: "vectors[0].masked" });
    expect(refusal.message).toContain("vfio-pci-v1 cannot keep a vector masked");
    expect(r.kernel.luo.phase).toBe("NORMAL");
    expect(vms.every((v) => v.running)).toBe(true);
    expect(engines.every((e) => e.progress.descriptors.blackout === 0)).toBe(true); // never froze
    expectIntact(machine, checks, vmm);
    // Unmasked, the same downgrade goes through.
    vm.vfio.setVectorMask(vm.devices[0]!.device, 0, false);
    vmm.preserveAll();
    expect(updateHost(vmm, { to: buildA }).outcome).toBe("updated");
  });

  for (const cancelAt of ["PREPARED", "FROZEN"] as const) {
    it(`cancel at ${cancelAt}: the old kernel intact, DMA never interrupted, then a clean update`, () => {
      const { machine, engines, vmm, vms } = host(2);
      vmm.preserveAll();
      const checks = new Map(vms.map((v) => [v, VmMemoryCheck.begin(v, machine.memory)]));
      const before = engines.map((e) => e.progress.descriptors.before);
      const r = updateHost(vmm, { to: buildB, cancelAt });
      expect(r).toMatchObject({ outcome: "cancelled", stage: cancelAt });
      expect(r.kernel.luo.phase).toBe("NORMAL");
      for (let t = 0; t < 3; t++) vmm.step(100_000);
      engines.forEach((e, i) => {
        expect(e.progress.descriptors.brownout).toBeGreaterThan(0);
        if (cancelAt === "FROZEN") expect(e.progress.descriptors.blackout).toBeGreaterThan(0);
        expect(e.progress.descriptors.before).toBeGreaterThan(before[i]!); // back to normal, still working
        expect(e.counters.dmaFaults).toBe(0);
        expect(e.counters.resets).toBe(1); // the first open's
      });
      expectIntact(machine, checks, vmm);
      vmm.preserveAll();
      expect(updateHost(vmm, { to: buildB }).outcome).toBe("updated");
    });
  }

  it("refuses, before freeze, a target build that lacks a driver the VMs need", () => {
    const noVfio = defineKernelBuild({
      version: "6.19.0-lu-novfio",
      drivers: [GuestmemfsDriver, IommufdDriver],
    });
    const { machine, engines, vmm, vms } = host(1);
    vmm.preserveAll();
    const checks = new Map(vms.map((v) => [v, VmMemoryCheck.begin(v, machine.memory)]));
    const r = updateHost(vmm, { to: noVfio });
    expect(r).toMatchObject({ outcome: "cancelled", stage: "prepare" });
    if (r.outcome !== "cancelled") return;
    expect(r.error).toBeInstanceOf(LuoNegotiationRefusedError);
    expect((r.error as Error).message).toMatch(/has no driver (vfio-)?pci/);
    expect(engines[0]!.progress.descriptors.brownout).toBe(0); // refused before anything was prepared
    expectIntact(machine, checks, vmm);
  });

  describe("a device whose live state no longer matches its snapshot", () => {
    const drift = (machine: Machine) =>
      machine.pci.function("00:04.0")!.configWrite(pciRegs.PCI_BASE_ADDRESS_0, 4, 0xd000_0000);

    it("abort policy: the VM does not resume, the error names the field, the device is reset", () => {
      const { machine, engines, vmm } = host(2);
      vmm.preserveAll();
      const r = updateHost(vmm, { to: buildB, beforeBoot: (_h, m) => drift(m) }) as HostUpdated;
      expect(r.outcome).toBe("updated");
      const failure = r.vmm.failed.get("vm0");
      const mismatch = causes(failure).find(
        (e) => e instanceof VfioDeviceMismatchError,
      ) as VfioDeviceMismatchError;
      expect(mismatch.context).toMatchObject({ field: "bars[0].address", bdf: "0000:00:04.0" });
      expect(engines[0]!.counters.resets).toBe(2);
      expect(engines[0]!.busMasterEnabled).toBe(false);
      expect([...r.vmm.vms.keys()]).toEqual(["vm1"]); // the other VM resumed
      expect(engines[1]!.counters.resets).toBe(1);
      void machine;
    });

    it("reset policy: the device object is dropped and reported, the device reset", () => {
      const lenientB = defineKernelBuild({
        version: "6.19.0-lu-b-reset",
        drivers: [GuestmemfsDriver, IommufdDriver, withRestorePolicy(VfioPciDriver, "reset")],
      });
      const { engines, vmm } = host(1);
      vmm.preserveAll();
      const r = updateHost(vmm, { to: lenientB, beforeBoot: (_h, m) => drift(m) }) as HostUpdated;
      expect(r.kernel.luo.resets).toMatchObject([
        { driver: "vfio-pci", code: "VFIO_DEVICE_MISMATCH", session: "vm0" },
      ]);
      expect(causes(r.vmm.failed.get("vm0"))).toContainEqual(
        expect.objectContaining({ code: "LUO_OBJECT_RESET" }),
      );
      expect(engines[0]!.counters.resets).toBe(2);
    });
  });

  it("a handover corrupted between kexec and boot: typed error, the device blocked, no DMA into foreign memory", () => {
    const { machine, engines, vmm, vms } = host(2);
    const [victim, other] = vms as [Vm, Vm];
    vmm.preserveAll();
    const checks = new Map([[other, VmMemoryCheck.begin(other, machine.memory)]]);
    const top = [...victim.ctx.hwpts.values()][0]!.table.top;
    // The other VM's RAM, where the hostile leaf will point.
    const foreign = other.file.locate(48 * MiB).phys;
    const sentinel = machine.memory.read(foreign, 4096);
    const r = updateHost(vmm, {
      to: buildB,
      beforeBoot: (_h, m) => {
        // Rewrite the leaf that maps the victim's workload region (guest-physical 4 MiB).
        const leaf = leafOf(m, top, 4 * MiB);
        const size = leaf.level === 1 ? 4096 : 2 * MiB;
        const q = m.memory.readU64(leaf.at);
        m.memory.writeU64(leaf.at, (q & ~0x000f_ffff_ffff_f000n) | BigInt(foreign - (foreign % size)));
      },
    }) as HostUpdated;
    const failure = r.vmm.failed.get("vm0");
    expect(causes(failure).some((e) => e instanceof IommufdLeafOutsideMappingError)).toBe(true);
    expect([...r.vmm.vms.keys()]).toEqual(["vm1"]);
    for (let t = 0; t < 5; t++) r.vmm.step(100_000);
    expect(engines[0]!.counters.dmaFaults).toBeGreaterThan(0); // blocked: its DMA faults
    expect(
      machine.iommu.walk({
        requesterId: engines[0]!.requesterId,
        pasid: undefined,
        iova: 4 * MiB,
        write: true,
      }).ok,
    ).toBe(false);
    expect(machine.memory.read(foreign, 4096)).toEqual(sentinel); // nothing landed in the other VM
    expectIntact(machine, checks, r.vmm);
  });
});

/** The address of the second-stage entry that maps `iova` (the leaf), walking from `top`. */
function leafOf(machine: Machine, top: number, iova: number): { at: number; level: number } {
  let table = top;
  for (let level = 4; level >= 1; level--) {
    const at = table + (Math.floor(iova / 2 ** (12 + 9 * (level - 1))) % 512) * 8;
    const q = machine.memory.readU64(at);
    if (level === 1 || (level <= 3 && (q & 0x80n) !== 0n)) return { at, level };
    table = Number(q & 0x000f_ffff_ffff_f000n);
  }
  throw new Error("unreachable");
}
