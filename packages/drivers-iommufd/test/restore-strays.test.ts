import { type Machine, VTD_CONTEXT_ENTRY_SIZE, VTD_REG, VTD_ROOT_ENTRY_SIZE } from "@liveupdate/core";
import { fieldOffset } from "@liveupdate/core/testkit";
import { describe, expect, it } from "vitest";
import {
  IOMMU_LU_DEVICES_LISTED,
  IommuCore,
  IommuDeviceV2,
  IommufdHandoverMismatchError,
  IommuLiveupdateSchema,
  IommuLiveupdateV2,
  IommuStrayContextEntryError,
} from "../src/index.js";
import { DmaProbe, MiB, oneVm } from "./fixtures.js";

/** Requester id 00:06.0: a device no context ever bound. */
const STRAY_RID = 0x30;

/** The root table the unit translates through. */
function rootTable(machine: Machine): number {
  return Number(machine.iommu.readRegister(VTD_REG.RTADDR) & ~0xfffn);
}

/** Address of `rid`'s context entry (its bus's context table must exist). */
function contextSlot(machine: Machine, rid: number): number {
  const half = (rid & 0xff) >= 128 ? 1 : 0;
  const table = Number(
    machine.memory.readU64(rootTable(machine) + (rid >> 8) * VTD_ROOT_ENTRY_SIZE + half * 8) & ~0xfffn,
  );
  return table + ((rid & 0xff) % 128) * VTD_CONTEXT_ENTRY_SIZE;
}

describe("restore blocks what no preserved context owns", () => {
  it("clears a stray context entry that reaches a VM's memory, reports it, and keeps the VM's DMA going", () => {
    const { h, file, dev } = oneVm({ preserve: true });
    const probe = new DmaProbe(h.machine, [
      { requesterId: dev.requesterId, iova: 0x100_0000 },
      { requesterId: STRAY_RID, iova: 0x100_0000 },
    ]);
    const result = h.update({
      beforeBoot: (_handover, machine) => {
        // A buggy old kernel left 00:06.0 pointing at the VM's PASID directory: its DMA would land in the VM.
        const from = contextSlot(machine, dev.requesterId);
        const to = contextSlot(machine, STRAY_RID);
        for (let q = 0; q < 4; q++) machine.memory.writeU64(to + q * 8, machine.memory.readU64(from + q * 8));
      },
    });
    const core = h.driver(IommuCore);
    expect(core.strays).toHaveLength(1);
    expect(core.strays[0]).toBeInstanceOf(IommuStrayContextEntryError);
    expect(core.strays[0]).toMatchObject({ code: "IOMMU_STRAY_CONTEXT_ENTRY", context: { rid: "0x30" } });
    expect(result.events.some((e) => e.kind === "warning" && e.message.includes("0x30"))).toBe(true);
    const stray = { requesterId: STRAY_RID, pasid: undefined, iova: 0x100_0000, write: true };
    expect(h.machine.iommu.walk(stray)).toMatchObject({ ok: false, reason: "context-not-present" });
    const faults = probe.totalFaults();
    const ok = probe.totalOk();
    h.machine.run(10_000);
    expect(probe.totalOk()).toBeGreaterThan(ok); // the VM's device keeps writing
    expect(probe.totalFaults()).toBeGreaterThan(faults); // the stray one faults
    expect(probe.landed.get(0)).toBe(file.locate(0).phys);
    probe.stop();
  });

  it("clears a root entry of a bus without kept devices that points at memory nobody preserved", () => {
    const { h, dev } = oneVm({ preserve: true });
    const probe = new DmaProbe(h.machine, [{ requesterId: dev.requesterId, iova: 0x100_0000 }]);
    let slot = 0;
    h.update({
      beforeBoot: (_handover, machine) => {
        slot = rootTable(machine) + 7 * VTD_ROOT_ENTRY_SIZE;
        machine.memory.writeU64(slot, BigInt(16 * MiB) | 1n); // bus 7 → kernel memory
      },
    });
    const core = h.driver(IommuCore);
    expect(core.strays.map((s) => s.context)).toMatchObject([{ field: "root[7].lower", table: "0x1000000" }]);
    expect(h.machine.memory.readU64(slot)).toBe(0n);
    h.machine.run(10_000);
    expect(probe.totalFaults()).toBe(0);
    probe.stop();
  });

  it("adopts an honest handover without writing anything or reporting strays", () => {
    const { h, dev } = oneVm({ preserve: true });
    const probe = new DmaProbe(h.machine, [{ requesterId: dev.requesterId, iova: 0x100_0000 }]);
    h.update();
    expect(h.driver(IommuCore).strays).toEqual([]);
    h.machine.run(10_000);
    expect(probe.totalFaults()).toBe(0);
    probe.stop();
  });

  it("refuses a context record naming a device the IOMMU core's handover does not list, and blocks it", () => {
    const { h, dev } = oneVm({ preserve: true });
    const probe = new DmaProbe(h.machine, [{ requesterId: dev.requesterId, iova: 0x100_0000 }]);
    let error: unknown;
    try {
      h.update({
        beforeBoot: (handover, machine) => {
          const flb = handover.flbs.find((f) => f.compatible === "iommu-liveupdate-v2")!;
          const devices = Number(
            machine.memory.readU64(flb.data + fieldOffset(IommuLiveupdateV2, "devices")),
          );
          machine.memory.writeU16(devices + fieldOffset(IommuDeviceV2, "rid"), STRAY_RID);
        },
      });
    } catch (e) {
      error = (e as { cause?: unknown }).cause;
    }
    expect(error).toBeInstanceOf(IommufdHandoverMismatchError);
    expect(error).toMatchObject({ context: { field: "devices[0].rid" } });
    // Its context entry was a stray to the IOMMU core: cleared at adopt.
    const req = { requesterId: dev.requesterId, pasid: undefined, iova: 0x100_0000, write: true };
    expect(h.machine.iommu.walk(req)).toMatchObject({ ok: false, reason: "context-not-present" });
    const faults = probe.totalFaults();
    h.machine.run(10_000);
    expect(probe.totalFaults()).toBeGreaterThan(faults);
    probe.stop();
  });

  it("with a handover that lists no devices (flags 0, as v1 upgraded), adopts and warns that strays go undetected", () => {
    const { h, dev } = oneVm({ preserve: true });
    const probe = new DmaProbe(h.machine, [
      { requesterId: dev.requesterId, iova: 0x100_0000 },
      { requesterId: STRAY_RID, iova: 0x100_0000 },
    ]);
    const result = h.update({
      beforeBoot: (handover, machine) => {
        const flb = handover.flbs.find((f) => f.compatible === "iommu-liveupdate-v2")!;
        machine.memory.writeU32(flb.data + fieldOffset(IommuLiveupdateV2, "flags"), 0);
        const from = contextSlot(machine, dev.requesterId);
        const to = contextSlot(machine, STRAY_RID);
        for (let q = 0; q < 4; q++) machine.memory.writeU64(to + q * 8, machine.memory.readU64(from + q * 8));
      },
    });
    expect(h.driver(IommuCore).strays).toEqual([]);
    expect(result.events.some((e) => e.kind === "warning" && e.message.includes("cannot be detected"))).toBe(
      true,
    );
    const faults = probe.totalFaults();
    h.machine.run(10_000);
    expect(probe.totalFaults()).toBe(faults); // nothing blocked: the stray one gets through, as the warning says
    probe.stop();
  });
});

describe("the iommu-liveupdate schema", () => {
  it("upgrades v1 with the device list marked absent and downgrades only as a lossy migration", () => {
    const v1 = { root_table_phys: 0x5000n, next_domain_id: 3 };
    const up = IommuLiveupdateSchema.migrate(v1, 1, 2).value;
    expect(up).toMatchObject({ ...v1, flags: 0, devices: [] });
    const v2 = { ...v1, flags: IOMMU_LU_DEVICES_LISTED, devices: [{ rid: 0x20 }] };
    expect(() => IommuLiveupdateSchema.migrate(v2, 2, 1)).toThrow();
    expect(IommuLiveupdateSchema.migrate(v2, 2, 1, { allowLossy: true }).value).toEqual(v1);
  });
});
