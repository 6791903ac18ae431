import { LuoOperationRefusedError } from "@liveupdate/core";
import { describe, expect, it } from "vitest";
import {
  IOMMU_IOAS_MAP_READABLE,
  IommufdBusyError,
  type IommufdContext,
  IommufdDriver,
  IommufdExistsError,
  IommufdInvalidArgumentError,
  IommufdNotFoundError,
} from "../src/index.js";
import { boot, DmaProbe, KiB4, MiB } from "./fixtures.js";

function vm() {
  const env = boot();
  const { gm, fd } = env;
  const file = gm.create("vm-ram", { size: 8 * MiB });
  const ctx = fd.open();
  const ioas = fd.ioasAlloc(ctx);
  const hwpt = fd.hwptAlloc(ioas);
  const dev = fd.bind(ctx, "0000:00:04.0");
  fd.attach(dev, hwpt);
  return { ...env, file, ctx, ioas, hwpt, dev };
}

describe("iommufd objects", () => {
  it("maps a guestmemfs file range and the hardware translates through the tables it built", () => {
    const { h, fd, file, ioas, dev } = vm();
    fd.map(ioas, { iova: 0x1000_0000, file, offset: 0, length: 4 * MiB });
    const iommu = h.machine.iommu;
    expect(iommu.translationEnabled).toBe(true);
    for (const off of [0, KiB4, 2 * MiB + 123, 4 * MiB - 4]) {
      const t = iommu.walk({
        requesterId: dev.requesterId,
        pasid: undefined,
        iova: 0x1000_0000 + off,
        write: true,
      });
      expect(t).toMatchObject({ ok: true, phys: file.locate(off).phys, untranslated: false });
    }
    expect(
      iommu.walk({
        requesterId: dev.requesterId,
        pasid: undefined,
        iova: 0x1000_0000 + 4 * MiB,
        write: false,
      }),
    ).toMatchObject({ ok: false, reason: "page-not-present" });
  });

  it("uses 2 MiB leaves where aligned, 4 KiB elsewhere, and only 4 KiB when large pages are off", () => {
    const { fd, file, ioas, hwpt, ctx } = vm();
    fd.map(ioas, { iova: 0x4000_0000, file, offset: 0, length: 4 * MiB });
    fd.map(ioas, { iova: 0x5000_1000, file, offset: 4 * MiB, length: 8 * KiB4 });
    expect(hwpt.table.lookup(0x4000_0000)?.size).toBe(2 * MiB);
    expect(hwpt.table.lookup(0x5000_1000)?.size).toBe(KiB4);
    const small = fd.hwptAlloc(ioas, { largePages: false });
    expect(small.table.lookup(0x4000_0000)?.size).toBe(KiB4);
    expect(small.table.lookup(0x4000_0000 + 3 * MiB)?.phys).toBe(file.locate(3 * MiB).phys);
    expect(small.domainId).not.toBe(hwpt.domainId);
    expect(ctx.hwpts.size).toBe(2);
  });

  it("refuses overlapping, unaligned and out-of-file maps with typed errors", () => {
    const { fd, file, ioas } = vm();
    fd.map(ioas, { iova: 0x10_0000, file, length: MiB });
    expect(() => fd.map(ioas, { iova: 0x18_0000, file, length: MiB })).toThrow(IommufdExistsError);
    expect(() => fd.map(ioas, { iova: 0x20_0800, file, length: MiB })).toThrow(IommufdInvalidArgumentError);
    expect(() => fd.map(ioas, { iova: 0x40_0000, file, offset: 8 * MiB, length: KiB4 })).toThrow(
      IommufdInvalidArgumentError,
    );
    expect(() => fd.map(ioas, { iova: 2 ** 48 - KiB4, file, length: 2 * KiB4 })).toThrow(
      IommufdInvalidArgumentError,
    );
  });

  it("unmaps whole areas, flushes the IOTLB, and refuses to cut an area", () => {
    const { h, fd, file, ioas, dev } = vm();
    fd.map(ioas, { iova: 0x10_0000, file, length: MiB });
    const req = { requesterId: dev.requesterId, pasid: undefined, iova: 0x10_0000, write: true };
    expect(h.machine.iommu.translate(req).ok).toBe(true); // now cached in the IOTLB
    expect(() => fd.unmap(ioas, 0x10_0000, KiB4)).toThrow(IommufdInvalidArgumentError);
    expect(fd.unmap(ioas, 0, 16 * MiB)).toBe(MiB);
    expect(h.machine.iommu.translate(req)).toMatchObject({ ok: false, reason: "page-not-present" });
    expect(() => fd.unmap(ioas, 0, 16 * MiB)).toThrow(IommufdNotFoundError);
  });

  it("copies mappings between IOASes and attaches by PASID", () => {
    const { h, fd, file, ctx, ioas, dev } = vm();
    fd.map(ioas, { iova: 0x10_0000, file, offset: MiB, length: 2 * MiB });
    const other = fd.ioasAlloc(ctx);
    const hw2 = fd.hwptAlloc(other);
    fd.copy(ioas, 0x18_0000, MiB, other, 0x7000_0000, IOMMU_IOAS_MAP_READABLE);
    fd.attach(dev, hw2, 5);
    const t = h.machine.iommu.walk({
      requesterId: dev.requesterId,
      pasid: 5,
      iova: 0x7000_0000,
      write: false,
    });
    expect(t).toMatchObject({ ok: true, phys: file.locate(MiB + 0x8_0000).phys });
    expect(
      h.machine.iommu.walk({ requesterId: dev.requesterId, pasid: 5, iova: 0x7000_0000, write: true }),
    ).toMatchObject({ ok: false, reason: "write-to-read-only" });
    expect(() => fd.copy(ioas, 0x30_0000, MiB, other, 0, undefined)).toThrow(IommufdNotFoundError);
    fd.detach(dev, 5);
    expect(
      h.machine.iommu.walk({ requesterId: dev.requesterId, pasid: 5, iova: 0x7000_0000, write: false }).ok,
    ).toBe(false);
    expect(() => fd.hwptDestroy(fd.hwptAlloc(ioas))).not.toThrow();
  });

  it("keeps devices exclusive and objects busy while in use", () => {
    const { fd, hwpt, dev, ctx } = vm();
    const other = fd.open();
    expect(() => fd.bind(other, "00:04.0")).toThrow(IommufdBusyError);
    expect(() => fd.hwptDestroy(hwpt)).toThrow(IommufdBusyError);
    expect(() => fd.unbind(dev)).toThrow(IommufdBusyError);
    fd.close(ctx);
    expect(() => fd.ioasAlloc(ctx)).toThrow(IommufdNotFoundError);
    fd.bind(other, "00:04.0");
  });

  it("pins mapped files: a mapped file cannot shrink under DMA", () => {
    const { gm, fd, file, ioas } = vm();
    fd.map(ioas, { iova: 0, file, offset: 2 * MiB, length: 2 * MiB });
    expect(() => gm.truncate(file, 2 * MiB)).toThrow();
    fd.unmap(ioas, 0, 2 * MiB);
    gm.truncate(file, 2 * MiB);
  });
});

describe("iommufd live update", () => {
  function preservedVm() {
    const env = vm();
    const { h, fd, file, ioas, ctx } = env;
    fd.map(ioas, { iova: 0x1000_0000, file, length: 8 * MiB });
    h.preserve(1, file);
    h.preserve(2, ctx);
    return env;
  }

  it("keeps the tables in place: DMA goes on through brownout, blackout and restore with zero faults", () => {
    const { h, file, hwpt, dev } = preservedVm();
    const probe = new DmaProbe(h.machine, [{ requesterId: dev.requesterId, iova: 0x1000_0000 + 3 * MiB }]);
    const top = hwpt.table.top;
    const domainId = hwpt.domainId;
    h.machine.run(10_000);
    const okBefore = probe.totalOk();
    let duringBrownout = 0;
    let duringBlackout = 0;
    const result = h.update({
      brownout: () => {
        h.machine.run(10_000);
        duringBrownout = probe.totalOk();
      },
      frozen: () => {
        h.machine.run(10_000);
        duringBlackout = probe.totalOk();
      },
      beforeBoot: (_handover, machine) => machine.run(10_000),
    });
    h.machine.run(10_000);
    expect(probe.totalFaults()).toBe(0);
    expect(probe.untranslated).toBe(0);
    expect(duringBrownout).toBeGreaterThan(okBefore);
    expect(duringBlackout).toBeGreaterThan(duringBrownout);
    expect(probe.totalOk()).toBeGreaterThan(duringBlackout);
    expect(probe.landed.get(0)).toBe(file.locate(3 * MiB).phys);
    // Counted by the hardware's own phase (set by the orchestrator): DMA in every phase, no fault in any.
    expect(probe.ok.brownout).toBeGreaterThan(0);
    expect(probe.ok.blackout).toBeGreaterThan(0);
    expect(probe.ok.after).toBeGreaterThan(0);
    expect(probe.faults).toEqual({});

    const restored = result.restored<IommufdContext>(2);
    const next = result.kernel.driver(IommufdDriver);
    const adopted = [...restored.hwpts.values()][0]!;
    expect(adopted.table.top).toBe(top); // not rewritten, not moved
    expect(adopted.domainId).toBe(domainId); // same domain id
    expect(adopted.table.pages.size).toBe(hwpt.table.pages.size);
    // map/unmap work on the adopted domain
    const newFile = result.restored<typeof file>(1);
    const ioas = [...restored.ioas.values()][0]!;
    expect(() => next.unmap(ioas, 0x1000_0000, 8 * MiB)).not.toThrow(); // UPDATED: allowed
    next.map(ioas, { iova: 0x2000_0000, file: newFile, length: 2 * MiB });
    const t = h.machine.iommu.walk({
      requesterId: dev.requesterId,
      pasid: undefined,
      iova: 0x2000_0000,
      write: true,
    });
    expect(t).toMatchObject({ ok: true, phys: newFile.locate(0).phys });
    probe.stop();
  });

  it("refuses map and unmap on a preserved context in brownout and blackout (EBUSY), never on others", () => {
    const { h, fd, file, ioas } = preservedVm();
    const loose = fd.open();
    const looseIoas = fd.ioasAlloc(loose);
    h.prepare();
    expect(() => fd.map(ioas, { iova: 0x4000_0000, file, length: KiB4 })).toThrow(LuoOperationRefusedError);
    expect(() => fd.unmap(ioas, 0x1000_0000, 8 * MiB)).toThrow(LuoOperationRefusedError);
    fd.map(looseIoas, { iova: 0, file, length: KiB4 });
    h.update({
      frozen: () => {
        expect(() => fd.unmap(ioas, 0x1000_0000, 8 * MiB)).toThrow(
          expect.objectContaining({ errno: "EBUSY" }) as unknown as Error,
        );
      },
    });
  });

  it("tears down devices that are not preserved: their DMA faults after the update", () => {
    const { h, fd, file, dev } = preservedVm();
    const other = fd.open();
    const oIoas = fd.ioasAlloc(other);
    const oHwpt = fd.hwptAlloc(oIoas);
    const oDev = fd.bind(other, "0000:00:05.0");
    fd.attach(oDev, oHwpt);
    fd.map(oIoas, { iova: 0, file, length: MiB });
    const probe = new DmaProbe(h.machine, [
      { requesterId: dev.requesterId, iova: 0x1000_0000 },
      { requesterId: oDev.requesterId, iova: 0 },
    ]);
    h.machine.run(10_000);
    expect(probe.totalFaults()).toBe(0);
    h.update();
    const faultsAfterReboot = probe.totalFaults();
    h.machine.run(10_000);
    expect(probe.totalFaults()).toBeGreaterThan(faultsAfterReboot);
    const t = h.machine.iommu.walk({ requesterId: oDev.requesterId, pasid: undefined, iova: 0, write: true });
    expect(t).toMatchObject({ ok: false, reason: "context-not-present" });
    expect(probe.untranslated).toBe(0);
    probe.stop();
  });
});
