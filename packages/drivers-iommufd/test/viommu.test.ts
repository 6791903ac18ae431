import {
  defineKernelBuild,
  encodeFirstStageEntry,
  LuoHookFailedError,
  SchemaDowngradeRefusedError,
  tableIndex,
} from "@liveupdate/core";
import { fieldOffset, withNative } from "@liveupdate/core/testkit";
import { type GuestmemFile, GuestmemfsDriver } from "@liveupdate/guestmemfs";
import { describe, expect, it } from "vitest";
import {
  type IommufdContext,
  IommufdDriver,
  IommufdHandoverMismatchError,
  IommufdInvalidArgumentError,
  IommufdNestedV2,
  IommufdV2,
} from "../src/index.js";
import { boot, DmaProbe, MiB } from "./fixtures.js";

const buildV1 = defineKernelBuild({
  version: "6.17.0-iommufd-v1",
  drivers: [GuestmemfsDriver, withNative(IommufdDriver, 1)],
  cmdline: "guestmemfs=64M",
});

/** The guest's own first-stage tables, in its RAM (a guestmemfs file; GPA = file offset). */
class GuestPageTables {
  constructor(
    private readonly file: () => GuestmemFile,
    private readonly write: (phys: number, value: bigint) => void,
    readonly root: number,
  ) {}

  /** Maps guest IOVA `iova` to GPA `gpa` (4 KiB), with tables at root + 4 KiB · level. */
  map(iova: number, gpa: number): void {
    for (let level = 4; level >= 1; level--) {
      const table = this.root + (4 - level) * 4096;
      const slot = table + tableIndex(iova, level) * 8;
      const next = level === 1 ? gpa : table + 4096;
      this.write(
        this.file().locate(slot).phys,
        encodeFirstStageEntry({ address: next, present: true, writable: true }),
      );
    }
  }
}

describe("vIOMMU: nested translation across a live update", () => {
  it("a guest's own first-stage tables keep translating before, during and after the update, and it remaps after", () => {
    const { h, gm, fd } = boot();
    let ram = gm.create("guest-ram", { size: 8 * MiB });
    const ctx = fd.open();
    const ioas = fd.ioasAlloc(ctx);
    const parent = fd.hwptAlloc(ioas, { nestParent: true });
    fd.map(ioas, { iova: 0, file: ram, length: 8 * MiB }); // second stage: GPA → HPA
    const viommu = fd.viommuAlloc(parent);
    const dev = fd.bind(ctx, "00:06.0");
    fd.vdeviceAlloc(viommu, dev, 0x30);
    const guest = new GuestPageTables(
      () => ram,
      (p, v) => h.machine.memory.writeU64(p, v),
      0x40_0000,
    );
    guest.map(0x8000_0000, 0x10_0000);
    const nested = fd.nestedAlloc(viommu, guest.root);
    fd.attach(dev, nested, 3);
    expect(() => fd.viommuAlloc(fd.hwptAlloc(ioas))).toThrow(IommufdInvalidArgumentError);

    const probe = new DmaProbe(h.machine, [{ requesterId: dev.requesterId, pasid: 3, iova: 0x8000_0000 }]);
    h.machine.run(10_000);
    expect(probe.landed.get(0)).toBe(ram.locate(0x10_0000).phys);
    const tablesBefore = h.machine.memory.read(ram.locate(guest.root).phys, 4 * 4096);
    h.preserve(1, ram);
    h.preserve(2, ctx);
    const result = h.update({
      brownout: () => h.machine.run(10_000),
      frozen: () => h.machine.run(10_000),
      beforeBoot: (_handover, machine) => machine.run(10_000),
    });
    h.machine.run(10_000);
    expect(probe.totalFaults()).toBe(0);
    expect(probe.untranslated).toBe(0);
    // The guest's tables were neither copied nor rewritten.
    expect(h.machine.memory.read(ram.locate(guest.root).phys, 4 * 4096)).toEqual(tablesBefore);

    ram = result.restored<GuestmemFile>(1);
    const restored = result.restored<IommufdContext>(2);
    const next = result.kernel.driver(IommufdDriver);
    const n = [...restored.nested.values()][0]!;
    expect(n).toMatchObject({ firstStageTable: guest.root, domainId: nested.domainId });
    expect([...restored.viommus.values()][0]!.vdevices.get(0x30)?.device.requesterId).toBe(dev.requesterId);
    // The guest changes its own mapping after the update, and invalidates through the vIOMMU.
    guest.map(0x8000_0000, 0x20_0000);
    next.nestedInvalidate(n);
    h.machine.run(10_000);
    expect(probe.landed.get(0)).toBe(ram.locate(0x20_0000).phys);
    expect(probe.totalFaults()).toBe(0);
    probe.stop();
  });
});

describe("vIOMMU: what the next kernel refuses", () => {
  function nestedVm() {
    const env = boot();
    const { h, gm, fd } = env;
    const ram = gm.create("guest-ram", { size: 8 * MiB });
    const ctx = fd.open();
    const ioas = fd.ioasAlloc(ctx);
    const parent = fd.hwptAlloc(ioas, { nestParent: true });
    fd.map(ioas, { iova: 0, file: ram, length: 8 * MiB });
    const viommu = fd.viommuAlloc(parent);
    const dev = fd.bind(ctx, "00:06.0");
    fd.vdeviceAlloc(viommu, dev, 0x30);
    const guest = new GuestPageTables(
      () => ram,
      (p, v) => h.machine.memory.writeU64(p, v),
      0x40_0000,
    );
    guest.map(0x8000_0000, 0x10_0000);
    fd.attach(dev, fd.nestedAlloc(viommu, guest.root), 3);
    h.preserve(1, ram);
    h.preserve(2, ctx);
    return { ...env, dev };
  }

  it("refuses a nested HWPT whose first-stage pointer was moved, and blocks the device", () => {
    const { h, dev } = nestedVm();
    let error: unknown;
    try {
      h.update({
        beforeBoot: (handover, machine) => {
          const record = handover.file("default", 2)!.data;
          const nested = Number(machine.memory.readU64(record + fieldOffset(IommufdV2, "nested")));
          machine.memory.writeU64(nested + fieldOffset(IommufdNestedV2, "first_stage_gpa"), 0x50_0000n);
        },
      });
    } catch (e) {
      error = e;
    }
    expect((error as { cause?: unknown }).cause).toBeInstanceOf(IommufdHandoverMismatchError);
    const t = h.machine.iommu.translate({
      requesterId: dev.requesterId,
      pasid: 3,
      iova: 0x8000_0000,
      write: true,
    });
    expect(t).toMatchObject({ ok: false, reason: "context-not-present" });
  });

  it("refuses (typed, before anything is touched) to hand a vIOMMU to a build that speaks only v1", () => {
    const { h } = nestedVm();
    let error: unknown;
    try {
      h.update({ to: buildV1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LuoHookFailedError);
    expect((error as LuoHookFailedError).cause).toBeInstanceOf(SchemaDowngradeRefusedError);
    expect(h.kernel.luo.phase).toBe("NORMAL");
  });
});
