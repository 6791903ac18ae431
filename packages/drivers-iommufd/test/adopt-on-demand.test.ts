import { GuestmemfsDriver } from "@liveupdate/guestmemfs";
import { describe, expect, it } from "vitest";
import {
  IommuCore,
  IommufdBusyError,
  type IommufdContext,
  IommufdDriver,
  IommuNotRestoredError,
} from "../src/index.js";
import { DmaProbe, MiB, oneVm } from "./fixtures.js";

describe("the IOMMU core adopts the previous kernel's tables at first IOMMU use", () => {
  it("lets a new VM use the IOMMU before any preserved context is retrieved, keeping the old VM's DMA", () => {
    const { h, hwpt, dev } = oneVm({ preserve: true });
    const probe = new DmaProbe(h.machine, [{ requesterId: dev.requesterId, iova: 0x100_0000 }]);
    // Only the RAM file is retrieved (guestmemfs restores before new files are made): the IOMMU
    // core's FLB is still pending, no iommufd context is restored.
    const result = h.update({ needs: { default: [1] } });
    const core = h.driver(IommuCore);
    expect(core.adopted).toBe(false);
    // A second VM starts: its first IOMMU use (an attach) adopts the root table through
    // Luo.flbIncoming instead of refusing with IommuNotRestoredError.
    const gm = h.driver(GuestmemfsDriver);
    const fd = h.driver(IommufdDriver);
    const file = gm.create("ram-2", { size: 2 * MiB });
    const ctx = fd.open();
    const ioas = fd.ioasAlloc(ctx);
    const fresh = fd.hwptAlloc(ioas);
    fd.attach(fd.bind(ctx, "00:05.0"), fresh);
    fd.map(ioas, { iova: 0x200_0000, file, length: 2 * MiB });
    expect(core.adopted).toBe(true);
    expect(fresh.domainId).not.toBe(hwpt.domainId); // the adopted allocator hands out a new id
    // The old VM's device is kept for its context, which is not retrieved yet.
    expect(() => fd.bind(fd.open(), dev.requesterId)).toThrow(IommufdBusyError);
    const second = new DmaProbe(h.machine, [{ requesterId: 0x28, iova: 0x200_0000 }], "second-vm");
    h.machine.run(10_000);
    expect(probe.totalFaults() + second.totalFaults()).toBe(0); // both VMs' devices translate
    expect(second.landed.get(0)).toBe(file.locate(0).phys);
    // The old VM's context is retrieved later, over the already adopted tables.
    const restored = result.restored<IommufdContext>(2);
    expect([...restored.hwpts.values()][0]!.table.top).toBe(hwpt.table.top);
    h.machine.run(10_000);
    expect(probe.totalFaults()).toBe(0);
    probe.stop();
    second.stop();
  });

  it("still refuses IOMMU use when translation is on but no IOMMU core was handed over", () => {
    const { h } = oneVm();
    // Nothing preserved, yet a buggy old kernel leaves translation on.
    h.update({ needs: {}, beforeBoot: (_handover, machine) => machine.iommu.enableTranslation(true) });
    const fd = h.driver(IommufdDriver);
    expect(() => fd.bind(fd.open(), "00:06.0")).toThrow(IommuNotRestoredError);
  });
});
