import { defineKernelBuild, LuoHookFailedError, SchemaDowngradeRefusedError } from "@liveupdate/core";
import { withNative } from "@liveupdate/core/testkit";
import { IommufdDriver } from "@liveupdate/drivers-iommufd";
import { GuestmemfsDriver } from "@liveupdate/guestmemfs";
import { describe, expect, it } from "vitest";
import { VFIO_PCI_COMPATIBLE, type VfioDevice, VfioPciDriver, VfioPciSchema } from "../src/index.js";
import { bootVm, buildA } from "./fixtures.js";

/** An older release whose vfio-pci speaks only v1 (no per-vector masks). */
const buildV1 = defineKernelBuild({
  version: "6.17.0-vfio-v1",
  drivers: [GuestmemfsDriver, IommufdDriver, withNative(VfioPciDriver, 1)],
  cmdline: "guestmemfs=64M",
});

const vfioVersion = (r: {
  prepare: { negotiation: { drivers: readonly { driver: string; version: number }[] } };
}) => r.prepare.negotiation.drivers.find((d) => d.driver === "vfio-pci")?.version;

describe("vfio-pci versions", () => {
  it("names its first version as upstream does", () => {
    expect(`${VfioPciSchema.name}-v1`).toBe(VFIO_PCI_COMPATIBLE);
    expect(VfioPciSchema.latest).toBe(2);
  });

  it("keeps a masked vector masked across a v2 → v2 update: nothing is delivered until the guest unmasks", () => {
    const { h, device, vfio, ring, preserve } = bootVm();
    vfio.setVectorMask(device, 0, true);
    preserve();
    const r = h.update({ frozen: () => h.machine.run(100_000) });
    expect(vfioVersion(r)).toBe(2);
    const restored = r.restored<VfioDevice>(3);
    const next = r.kernel.driver(VfioPciDriver);
    expect(restored.vectors.get(0)?.masked).toBe(true);
    ring.rebind(next, restored);
    ring.kick();
    h.machine.run(100_000);
    const event = restored.vectors.get(0)!.event;
    expect(event.total).toBe(0);
    expect(device.fn.msixEntries()[0]).toMatchObject({ masked: true, pending: true });
    next.setVectorMask(restored, 0, false);
    expect(event.total).toBe(1);
    expect(device.fn.interruptCounters.lost).toBe(0);
  });

  it("downgrades to a v1 build when no vector is masked, and upgrades back", () => {
    const { h, engine, preserve } = bootVm();
    preserve();
    const down = h.update({ to: buildV1 });
    expect(vfioVersion(down)).toBe(1);
    const old = down.restored<VfioDevice>(3);
    expect(old.vectors.get(0)?.masked).toBe(false);
    const [file, ctx] = [down.restored(1), down.restored(2)];
    down.finish();
    h.preserve(1, file);
    h.preserve(2, ctx);
    h.preserve(3, old);
    const up = h.update({ to: buildA });
    expect(vfioVersion(up)).toBe(1); // the v1 build writes v1; build A reads it and upgrades
    expect(up.restored<VfioDevice>(3).fn).toBe(engine);
    expect(engine.counters.resets).toBe(1); // only the first open's
  });

  it("refuses, before anything freezes, to hand a masked vector to a build that cannot express it", () => {
    const { h, device, vfio, engine, preserve } = bootVm();
    vfio.setVectorMask(device, 0, true);
    preserve();
    let error: unknown;
    try {
      h.update({ to: buildV1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LuoHookFailedError);
    const cause = (error as LuoHookFailedError).cause;
    expect(cause).toBeInstanceOf(SchemaDowngradeRefusedError);
    expect(cause).toMatchObject({ context: { path: "vectors[0].masked" } });
    expect((cause as Error).message).toContain("interrupts the guest masked");
    expect(h.kernel.luo.phase).toBe("NORMAL");
    expect(device.preserved).toBe(false);
    expect(engine.busMasterEnabled).toBe(true);
    vfio.setVectorMask(device, 0, false);
    expect(vfioVersion(h.update({ to: buildV1 }))).toBe(1);
  });
});
