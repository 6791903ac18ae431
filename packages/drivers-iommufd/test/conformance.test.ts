import { type LiveUpdateKernel, type Prng } from "@liveupdate/core";
import {
  assertDriverConformance,
  CONFORMANCE_CHECKS,
  type ConformanceOptions,
} from "@liveupdate/core/testkit";
import { GuestmemfsDriver } from "@liveupdate/guestmemfs";
import { describe, expect, it } from "vitest";
import { type IommufdContext, IommufdDriver } from "../src/index.js";

/** What a VM could observe of a context: its objects, domain ids, tables and attachments. */
function observe(ctx: IommufdContext, lk: LiveUpdateKernel) {
  const hwpts = [...ctx.hwpts.values()].map((h) => ({
    id: h.id,
    ioas: h.ioas.id,
    domainId: h.domainId,
    top: h.table.top,
    dirty: h.dirtyTracking,
  }));
  const devices = [...ctx.devices.values()].map((d) => ({
    id: d.id,
    rid: d.requesterId,
    attachments: [...d.attachments.values()].map((a) => [a.pasid, a.hwpt.id]),
    // Requests without PASID translate to "not present" through an empty domain (never "context").
    walk: lk.machine.iommu.walk({ requesterId: d.requesterId, pasid: undefined, iova: 0, write: false }),
  }));
  return { nextId: ctx.nextId, ioas: [...ctx.ioas.keys()], hwpts, devices };
}

let nextBus = 1;
const options: ConformanceOptions<IommufdDriver, IommufdContext, ReturnType<typeof observe>> = {
  // An iommufd context without file areas (the suite preserves only what this returns): IOASes,
  // domains with and without large pages, devices attached with and without PASID.
  createObject: (_lk, rng: Prng, fd) => {
    const ctx = fd.open();
    const ioas = fd.ioasAlloc(ctx);
    const hwpts = [
      fd.hwptAlloc(ioas, { largePages: rng.int(0, 1) === 1, dirtyTracking: rng.int(0, 3) === 0 }),
    ];
    if (rng.int(0, 1) === 1) hwpts.push(fd.hwptAlloc(fd.ioasAlloc(ctx)));
    for (let n = rng.int(1, 2); n > 0; n--) {
      const dev = fd.bind(ctx, ((nextBus++ % 250) << 8) | (rng.int(0, 31) << 3));
      fd.attach(dev, hwpts[0]!);
      if (rng.int(0, 1) === 1) fd.attach(dev, hwpts[hwpts.length - 1]!, rng.int(1, 300));
    }
    return ctx;
  },
  snapshot: (ctx, lk) => observe(ctx, lk),
  assertRestored: (_original, restored, c) => {
    expect(observe(restored, c.kernel)).toEqual(c.snapshot);
  },
  brownout: (ctx, _lk, fd) => fd.setDirtyTracking([...ctx.hwpts.values()][0]!, true),
  withDrivers: [GuestmemfsDriver],
  memory: "512M",
};

describe("iommufd conformance", () => {
  it("passes every check of the testkit's conformance suite", () => {
    const report = assertDriverConformance(IommufdDriver, options);
    expect(report.checks.map((c) => [c.name, c.status])).toEqual(
      CONFORMANCE_CHECKS.map((name) => [name, "passed"]),
    );
  });
});
