import { defineKernelBuild, LuoHookFailedError, SchemaDowngradeRefusedError } from "@liveupdate/core";
import { withNative } from "@liveupdate/core/testkit";
import { GuestmemfsDriver } from "@liveupdate/guestmemfs";
import { describe, expect, it } from "vitest";
import { type IommufdContext, IommufdDriver } from "../src/index.js";
import { boot, buildA, DmaProbe, MiB } from "./fixtures.js";

/** An older release whose iommufd speaks only v1 (no dirty-tracking state). */
const buildV1 = defineKernelBuild({
  version: "6.17.0-iommufd-v1",
  drivers: [GuestmemfsDriver, withNative(IommufdDriver, 1)],
  cmdline: "guestmemfs=64M",
});

function preserved(dirtyTracking: boolean) {
  const env = boot();
  const { h, gm, fd } = env;
  const file = gm.create("ram", { size: 4 * MiB });
  const ctx = fd.open();
  const ioas = fd.ioasAlloc(ctx);
  const hwpt = fd.hwptAlloc(ioas, { dirtyTracking });
  const dev = fd.bind(ctx, "00:04.0");
  fd.attach(dev, hwpt);
  fd.map(ioas, { iova: 0x100_0000, file, length: 4 * MiB });
  h.preserve(1, file);
  h.preserve(2, ctx);
  const probe = new DmaProbe(h.machine, [{ requesterId: dev.requesterId, iova: 0x100_0000 }]);
  return { ...env, file, ctx, hwpt, dev, probe };
}

describe("iommufd versions", () => {
  it("downgrades to a v1 build when no HWPT tracks dirty pages, and upgrades back", () => {
    const { h, hwpt, probe } = preserved(false);
    const down = h.update({ to: buildV1 });
    expect(down.prepare.negotiation.drivers.find((d) => d.driver === "iommufd")?.version).toBe(1);
    const old = down.restored<IommufdContext>(2);
    expect([...old.hwpts.values()][0]).toMatchObject({ domainId: hwpt.domainId, dirtyTracking: false });
    const oldFile = down.restored(1);
    down.finish();
    // The VMM preserves its objects again in the new kernel, for the next update.
    h.preserve(1, oldFile);
    h.preserve(2, old);
    const up = h.update({ to: buildA });
    expect(up.prepare.negotiation.drivers.find((d) => d.driver === "iommufd")?.version).toBe(1);
    const again = up.restored<IommufdContext>(2);
    expect([...again.hwpts.values()][0]!.table.top).toBe(hwpt.table.top);
    h.machine.run(10_000);
    expect(probe.totalFaults()).toBe(0);
    probe.stop();
  });

  it("refuses (typed, old kernel untouched) to hand dirty tracking to a build that cannot express it", () => {
    const { h, fd, hwpt, ctx, probe } = preserved(true);
    let error: unknown;
    try {
      h.update({ to: buildV1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LuoHookFailedError);
    expect((error as LuoHookFailedError).cause).toBeInstanceOf(SchemaDowngradeRefusedError);
    expect((error as LuoHookFailedError).cause).toMatchObject({
      context: { path: "hwpts[0].dirty_tracking" },
    });
    expect(h.kernel.luo.phase).toBe("NORMAL");
    expect(ctx.preserved).toBe(false);
    fd.setDirtyTracking(hwpt, false);
    h.update({ to: buildV1 });
    h.machine.run(10_000);
    expect(probe.totalFaults()).toBe(0);
    probe.stop();
  });
});

describe("iommufd cancel", () => {
  for (const at of ["PREPARED", "FROZEN"] as const) {
    it(`cancel in ${at}: DMA never stops, the context is usable again, the next update works`, () => {
      const { h, fd, file, ctx, probe } = preserved(false);
      h.prepare();
      h.machine.run(10_000);
      if (at === "FROZEN") h.kernel.luo.freeze();
      h.machine.run(10_000);
      h.kernel.luo.cancel(`cancel in ${at}`);
      expect(h.kernel.luo.phase).toBe("NORMAL");
      expect(ctx.preserved).toBe(false);
      const ioas = [...ctx.ioas.values()][0]!;
      fd.map(ioas, { iova: 0x4000_0000, file, length: MiB }); // allowed again
      fd.unmap(ioas, 0x4000_0000, MiB);
      h.update();
      h.machine.run(10_000);
      expect(probe.totalFaults()).toBe(0);
      expect(probe.landed.get(0)).toBe(file.locate(0).phys);
      probe.stop();
    });
  }
});
