import { DmaEngine, type LiveUpdateKernel, type Machine, type Prng } from "@liveupdate/core";
import {
  assertDriverConformance,
  CONFORMANCE_CHECKS,
  type ConformanceOptions,
  withNative,
} from "@liveupdate/core/testkit";
import { IommufdDriver } from "@liveupdate/drivers-iommufd";
import { GuestmemfsDriver } from "@liveupdate/guestmemfs";
import { describe, expect, it } from "vitest";
import { type VfioDevice, VfioPciDriver } from "../src/index.js";

/** What a VMM could observe of a device: its function, BARs, vectors and binding. */
function observe(device: VfioDevice) {
  const fn = device.fn;
  return {
    bdf: device.bdf,
    bars: fn.spec.bars.map((b) => [b.index, fn.barAddress(b.index)]),
    busMaster: fn.busMasterEnabled,
    resets: fn.counters.resets,
    vectors: [...device.vectors.values()].map((v) => [v.index, v.hostVector, v.masked]),
    bound: device.iommufd?.requesterId,
  };
}

const slots = new WeakMap<Machine, number>();

const options: ConformanceOptions<VfioPciDriver, VfioDevice, ReturnType<typeof observe>> = {
  // A DMA engine plugged in at the next free slot, opened, bound to a fresh iommufd context (its
  // companion in the session), bus mastering on, its vector wired — and masked half the time.
  createObject: (lk: LiveUpdateKernel, rng: Prng, vfio) => {
    const slot = slots.get(lk.machine) ?? 0;
    slots.set(lk.machine, slot + 1);
    const bdf = `0${1 + (slot >> 5)}:${(slot & 31).toString(16).padStart(2, "0")}.0`;
    lk.machine.pci.attach(new DmaEngine(), bdf);
    const fd = lk.driver(IommufdDriver);
    const ctx = fd.open();
    const hwpt = fd.hwptAlloc(fd.ioasAlloc(ctx));
    const device = vfio.open(bdf);
    vfio.bindIommufd(device, ctx, hwpt);
    vfio.enableBusMaster(device);
    vfio.setIrqs(device, [0]);
    if (rng.int(0, 3) === 0) vfio.setVectorMask(device, 0, true); // v1 cannot carry it: refused there
    return device;
  },
  companions: (device) => [device.iommufd!.ctx],
  snapshot: (device) => observe(device),
  assertRestored: (_original, restored, c) => {
    expect(observe(restored)).toEqual(c.snapshot);
  },
  brownout: (device, _lk, vfio) => vfio.setVectorMask(device, 0, !device.vectors.get(0)!.masked),
  peers: [withNative(VfioPciDriver, 1)],
  withDrivers: [GuestmemfsDriver, IommufdDriver],
  memory: "512M",
};

describe("vfio-pci conformance", () => {
  it("passes every check of the testkit's conformance suite", () => {
    const report = assertDriverConformance(VfioPciDriver, options);
    expect(report.checks.map((c) => [c.name, c.status])).toEqual(
      CONFORMANCE_CHECKS.map((name) => [name, "passed"]),
    );
  });
});
