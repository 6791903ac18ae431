import { defineKernelBuild, GiB } from "@liveupdate/core";
import { LiveUpdateHarness } from "@liveupdate/core/testkit";
import { GuestmemfsDriver } from "@liveupdate/guestmemfs";
import { describe, expect, it } from "vitest";
import { HUGE_PAGE, type IommufdContext, IommufdDriver, LARGE_PAGE } from "../src/index.js";
import { DmaProbe } from "./fixtures.js";

/** guestmemfs carved at 4 GiB: its extents are 1 GiB aligned, so 1 GiB leaves can map them. */
const build = defineKernelBuild({
  version: "6.18.0-iommufd-huge",
  drivers: [GuestmemfsDriver, IommufdDriver],
  cmdline: "guestmemfs=3G@4G",
});

describe("1 GiB leaves", () => {
  it("maps 1 GiB leaves where IOVA, address and length allow, 2 MiB after, and adopts them across an update", () => {
    const h = LiveUpdateHarness.boot({ from: build, to: build, memory: "8G" });
    const gm = h.driver(GuestmemfsDriver);
    const fd = h.driver(IommufdDriver);
    const file = gm.create("ram", { size: GiB + 4 * LARGE_PAGE });
    expect(file.locate(0).phys % HUGE_PAGE).toBe(0);
    const ctx = fd.open();
    const ioas = fd.ioasAlloc(ctx);
    const hwpt = fd.hwptAlloc(ioas);
    const dev = fd.bind(ctx, "00:04.0");
    fd.attach(dev, hwpt);
    fd.map(ioas, { iova: 0x40_0000_0000, file, length: GiB + 4 * LARGE_PAGE });
    expect(hwpt.table.lookup(0x40_0000_0000 + 0x1234_5678)).toMatchObject({ size: HUGE_PAGE });
    expect(hwpt.table.lookup(0x40_0000_0000 + GiB + 0x1000)).toMatchObject({ size: LARGE_PAGE });
    const small = fd.hwptAlloc(ioas, { largePages: false });
    expect(small.table.lookup(0x40_0000_0000)?.size).toBe(4096);
    const target = 0x40_0000_0000 + 0x3456_7000;
    const probe = new DmaProbe(h.machine, [{ requesterId: dev.requesterId, iova: target }]);
    h.machine.run(10_000);
    expect(probe.landed.get(0)).toBe(file.locate(0x3456_7000).phys);
    h.preserve(1, file);
    h.preserve(2, ctx);
    const r = h.update({ frozen: () => h.machine.run(10_000) });
    const adopted = [...r.restored<IommufdContext>(2).hwpts.values()].find(
      (x) => x.domainId === hwpt.domainId,
    )!;
    expect(adopted.table.top).toBe(hwpt.table.top);
    expect(adopted.table.lookup(target)).toMatchObject({
      size: HUGE_PAGE,
      phys: file.locate(0x3456_7000).phys,
    });
    h.machine.run(10_000);
    expect(probe.totalFaults()).toBe(0);
    // Unmapping the area clears the 1 GiB leaf whole.
    r.kernel
      .driver(IommufdDriver)
      .unmap([...r.restored<IommufdContext>(2).ioas.values()][0]!, 0x40_0000_0000, GiB + 4 * LARGE_PAGE);
    expect(adopted.table.lookup(target)).toBeUndefined();
    probe.stop();
  });
});
