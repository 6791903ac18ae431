import { VTD_FSTS, VTD_GCMD, VTD_REG } from "@liveupdate/core";
import { describe, expect, it, vi } from "vitest";
import { IommuCore, IommuInvalidationError } from "../src/index.js";
import { DmaProbe, MiB, oneVm } from "./fixtures.js";

describe("invalidation through the queue", () => {
  it("sends every invalidation through the unit's queue, never the direct interface", () => {
    const direct = vi.fn();
    const { h, fd, ioas, dev } = oneVm();
    const spy = vi.spyOn(h.machine.iommu, "invalidate").mockImplementation(direct);
    const core = h.driver(IommuCore);
    const iommu = h.machine.iommu;
    expect(Number(iommu.readRegister(VTD_REG.IQA) & ~0xfffn)).toBe(core.qi.queue);
    expect((Number(iommu.readRegister(VTD_REG.GSTS)) >>> VTD_GCMD.QIE) & 1).toBe(1);
    const probe = new DmaProbe(h.machine, [{ requesterId: dev.requesterId, iova: 0x100_0000 }]);
    h.machine.run(1_000);
    expect(probe.totalFaults()).toBe(0); // the IOTLB now caches the translation
    const { descriptors, waits } = core.qi;
    fd.unmap(ioas, 0x100_0000, 4 * MiB);
    expect(core.qi.descriptors).toBeGreaterThan(descriptors);
    expect(core.qi.waits).toBe(waits + 1); // one submission, one wait for the whole range
    expect(iommu.readRegister(VTD_REG.IQH)).toBe(iommu.readRegister(VTD_REG.IQT));
    h.machine.run(1_000);
    expect(probe.totalFaults()).toBeGreaterThan(0); // the queued flush dropped the cached translation
    expect(direct).not.toHaveBeenCalled();
    probe.stop();
    spy.mockRestore();
  });

  it("gives the new kernel its own queue and changes nothing the unit translates through", () => {
    const { h, ctx, dev } = oneVm({ preserve: true });
    const oldQueue = h.driver(IommuCore).qi.queue;
    const iommu = h.machine.iommu;
    const rtaddr = iommu.readRegister(VTD_REG.RTADDR);
    const probe = new DmaProbe(h.machine, [{ requesterId: dev.requesterId, iova: 0x100_0000 }]);
    const result = h.update();
    const core = h.driver(IommuCore);
    expect(core.adopted).toBe(true);
    expect(core.qi.queue).not.toBe(oldQueue);
    expect(Number(iommu.readRegister(VTD_REG.IQA) & ~0xfffn)).toBe(core.qi.queue);
    expect(iommu.readRegister(VTD_REG.RTADDR)).toBe(rtaddr);
    expect(iommu.translationEnabled).toBe(true);
    // The old queue page was this kernel's memory, not handed over.
    expect(result.handover.flbs.flatMap((f) => f.folios.map((x) => x.phys))).not.toContain(oldQueue);
    expect(
      result.handover.sessions.flatMap((s) => s.files.flatMap((f) => f.folios.map((x) => x.phys))),
    ).not.toContain(oldQueue);
    const restored = result.restored<typeof ctx>(2);
    h.driver(IommuCore).qi.invalidate({ kind: "iotlb-global" });
    h.machine.run(10_000);
    expect(probe.totalFaults()).toBe(0);
    expect(restored.devices.size).toBe(1);
    probe.stop();
  });

  it("reports a wait the unit did not complete with a typed error", () => {
    const { h } = oneVm();
    const qi = h.driver(IommuCore).qi;
    const iommu = h.machine.iommu;
    // A unit that ignores IQT writes never executes the queue, so the wait's status never arrives.
    const write = iommu.writeRegister.bind(iommu);
    const spy = vi
      .spyOn(iommu, "writeRegister")
      .mockImplementation((offset, value) => (offset === VTD_REG.IQT ? undefined : write(offset, value)));
    expect(() => qi.invalidate({ kind: "iotlb-global" })).toThrow(IommuInvalidationError);
    spy.mockRestore();
  });

  it("batches long submissions, one wait per queue page of descriptors", () => {
    const { h } = oneVm();
    const qi = h.driver(IommuCore).qi;
    const { waits, descriptors } = qi;
    qi.submit(
      Array.from({ length: 300 }, (_, i) => ({ kind: "iotlb-domain" as const, domainId: 1 + (i % 7) })),
    );
    expect(qi.descriptors - descriptors).toBe(300);
    expect(qi.waits - waits).toBe(3);
    expect(h.machine.iommu.readRegister(VTD_REG.FSTS) & (1n << BigInt(VTD_FSTS.IQE))).toBe(0n);
  });
});
