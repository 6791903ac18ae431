import { DmaEngine, pciRegs } from "@liveupdate/core";
import type { IommufdContext } from "@liveupdate/drivers-iommufd";
import type { GuestmemFile } from "@liveupdate/guestmemfs";
import { describe, expect, it } from "vitest";
import { PciCore, type VfioDevice, VfioPciDriver } from "../src/index.js";
import { bootVm } from "./fixtures.js";

describe("vfio-pci live update", () => {
  it("keeps the device bound and running, never reset: DMA in every phase, interrupts latched then delivered", () => {
    const vm = bootVm();
    const { h, engine, device, ring, event, preserve } = vm;
    const bars = [engine.barAddress(0), engine.barAddress(2)];
    const hostVector = device.vectors.get(0)!.hostVector;
    h.machine.run(100_000);
    ring.kick();
    preserve();
    const resetsBefore = engine.counters.resets;
    const deliveredBefore = engine.interruptCounters.delivered;
    let latchedDuringBlackout = 0;
    const result = h.update({
      brownout: () => {
        h.machine.run(50_000);
        ring.kick(); // the vCPUs run in brownout
      },
      frozen: () => h.machine.run(50_000),
      beforeBoot: (_handover, machine) => {
        machine.run(100_000); // the engine keeps going with no kernel at all
        latchedDuringBlackout = machine.interrupts.latchedMessages().length;
      },
    });
    expect(latchedDuringBlackout).toBe(1); // one latched vector (later messages coalesce into it)
    const restored = result.restored<VfioDevice>(3);
    const next = result.kernel.driver(VfioPciDriver);
    expect(restored).not.toBe(device);
    expect(restored.adopted).toBe(true);
    expect(restored.fn).toBe(engine);
    expect(engine.counters.resets).toBe(resetsBefore); // never reset
    expect([engine.barAddress(0), engine.barAddress(2)]).toEqual(bars);
    expect(engine.busMasterEnabled).toBe(true);
    // The new kernel wired the same host vector; what was latched arrived, late, at the new handle.
    expect(h.machine.interrupts.isWired(hostVector)).toBe(true);
    expect(restored.vectors.get(0)).toMatchObject({ hostVector, masked: false });
    expect(restored.vectors.get(0)!.event.late).toBe(1);
    expect(event.late).toBe(0); // the old handle got nothing late: it is gone with its kernel
    expect(engine.interruptCounters).toMatchObject({ lost: 0, pending: 0 });
    expect(engine.interruptCounters.delivered).toBeGreaterThan(deliveredBefore);
    // DMA went on in every phase, through the adopted tables, with zero faults.
    expect(engine.progress.descriptors.brownout).toBeGreaterThan(0);
    expect(engine.progress.descriptors.blackout).toBeGreaterThan(0);
    expect(engine.counters.dmaFaults).toBe(0);
    expect(engine.counters.dmaUntranslated).toBe(0);
    // The iommufd binding came back with it; the guest drives the device through the new kernel.
    const ctx = result.restored<IommufdContext>(2);
    expect(restored.iommufd?.ctx).toBe(ctx);
    ring.rebind(next, restored);
    const before = ring.completed();
    ring.kick();
    h.machine.run(100_000);
    expect(ring.completed()).toBeGreaterThan(before);
    expect(engine.progress.descriptors.after).toBeGreaterThan(0);
    expect(result.restored<GuestmemFile>(1).name).toBe("vm-ram");
    expect(result.finish().busy).toEqual([]);
  });

  it("clears bus mastering at reboot on an open device that is not preserved (upstream's shutdown path)", () => {
    const { h, vfio, preserve } = bootVm();
    const other = new DmaEngine();
    h.machine.pci.attach(other, "00:05.0");
    const loose = vfio.open("00:05.0");
    vfio.enableBusMaster(loose);
    preserve();
    const result = h.update();
    expect(other.configRead(pciRegs.PCI_COMMAND, 2) & pciRegs.PCI_COMMAND_MASTER).toBe(0);
    expect(result.kernel.driver(PciCore).incoming.has(other.requesterId)).toBe(false);
    // The new kernel may open it afresh; the preserved one must be retrieved instead.
    const next = result.kernel.driver(VfioPciDriver);
    expect(next.open("00:05.0").fn).toBe(other);
    expect(() => next.open("00:04.0")).toThrow(expect.objectContaining({ code: "VFIO_BUSY" }));
  });

  it("refuses to preserve a device whose iommufd context is not in the same session (before anything freezes)", () => {
    const { h, file, ctx, device } = bootVm();
    h.preserve(1, file);
    h.preserve(2, ctx);
    h.preserve(3, device, { session: "other" });
    expect(() => h.update()).toThrow(expect.objectContaining({ code: "LUO_HOOK_FAILED" }));
    expect(h.kernel.luo.phase).toBe("NORMAL");
  });
});
