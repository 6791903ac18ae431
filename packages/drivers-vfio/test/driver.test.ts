import { dmaEngineAbi as abi, DmaEngine, LuoOperationRefusedError, pciRegs } from "@liveupdate/core";
import { describe, expect, it } from "vitest";
import {
  PCI_MMIO_WINDOW,
  VfioBusyError,
  VfioInvalidArgumentError,
  VfioNoDeviceError,
  VfioPciDriver,
} from "../src/index.js";
import { bootVm, COMPLETIONS, DST, SRC } from "./fixtures.js";

describe("vfio-pci devices", () => {
  it("opens a device by BDF, assigns its BARs in the MMIO window and runs DMA through iommufd", () => {
    const { h, engine, device, event, ring, ram } = bootVm();
    expect(device.bdf).toBe("0000:00:04.0");
    const bar0 = engine.barAddress(0);
    expect(bar0).toBeGreaterThanOrEqual(PCI_MMIO_WINDOW.base);
    expect(bar0 % engine.barSize(0)).toBe(0);
    expect(engine.busMasterEnabled && engine.memorySpaceEnabled).toBe(true);
    expect(engine.counters.resets).toBe(1); // vfio-pci resets a device on first open
    h.machine.run(200_000);
    ring.kick();
    h.machine.run(200_000);
    expect(ring.completed()).toBeGreaterThan(64);
    // The engine's copies landed where the guest's IOVAs say: destination page 3 holds the last
    // source page i ≡ 3 (mod 16) copied there (source page i is filled with i + 1).
    const page = ram.read(DST + 3 * 4096, 4096);
    expect(new Set(page).size).toBe(1);
    expect((page[0]! - 1) % 16).toBe(3);
    expect(ram.read(SRC + (page[0]! - 1) * 4096, 4096)).toEqual(page);
    const record = abi.decodeCompletion(ram.read(COMPLETIONS + 3 * abi.COMPLETION_SIZE, abi.COMPLETION_SIZE));
    expect(record).toMatchObject({ status: abi.COMPLETION_STATUS.SUCCESS, bytes: 4096 });
    expect(event.total).toBeGreaterThan(0); // completions raise the vector: the handler signals the handle
    expect(event.read()).toBe(event.total);
    expect(event.read()).toBe(0);
    expect(engine.counters.dmaFaults).toBe(0);
  });

  it("refuses what is not there, what is taken, and the MSI-X table through BAR access", () => {
    const { h, device, vfio } = bootVm();
    expect(() => vfio.open("00:09.0")).toThrow(VfioNoDeviceError);
    expect(() => vfio.open("0000:00:04.0")).toThrow(VfioBusyError);
    expect(() => vfio.mmioRead32(device, abi.DMA_ENGINE_MSIX_BAR, 0)).toThrow(VfioInvalidArgumentError);
    expect(() => vfio.mmioRead32(device, abi.DMA_ENGINE_MSIX_BAR, abi.DMA_ENGINE_PBA_OFFSET)).toThrow(
      VfioInvalidArgumentError,
    );
    expect(vfio.mmioRead32(device, 0, abi.REG.ID)).toBe(abi.DMA_ENGINE_MAGIC);
    expect(() => vfio.setIrqs(device, [0])).toThrow(VfioInvalidArgumentError); // already wired
    expect(() => vfio.setIrqs(device, [1])).toThrow(VfioInvalidArgumentError); // table of one
    expect(() => vfio.setVectorMask(device, 1, true)).toThrow(VfioInvalidArgumentError);
    expect(() => vfio.remapBar(device, 0, 0xc000_0100)).toThrow(VfioInvalidArgumentError);
    expect(h.driver(VfioPciDriver)).toBe(vfio);
  });

  it("latches a masked vector in the PBA and delivers it on unmask", () => {
    const { h, device, vfio, event, ring } = bootVm();
    h.machine.run(100_000);
    event.read();
    vfio.setVectorMask(device, 0, true);
    ring.kick();
    h.machine.run(100_000);
    expect(event.read()).toBe(0);
    expect(device.fn.msixEntries()[0]).toMatchObject({ masked: true, pending: true });
    vfio.setVectorMask(device, 0, false);
    expect(event.read()).toBe(1);
    expect(device.fn.interruptCounters.lost).toBe(0);
  });

  it("moves a BAR, and closes a device: vectors unwired, unbound, reset, released", () => {
    const { h, engine, device, vfio } = bootVm();
    vfio.remapBar(device, 0, 0xd000_0000);
    expect(engine.barAddress(0)).toBe(0xd000_0000);
    expect(h.machine.pci.mmioRead32(0xd000_0000 + abi.REG.ID)).toBe(abi.DMA_ENGINE_MAGIC);
    const vector = device.vectors.get(0)!.hostVector;
    vfio.close(device);
    expect(h.machine.interrupts.isWired(vector)).toBe(false);
    expect(engine.counters.resets).toBe(2);
    expect(engine.configRead(pciRegs.PCI_COMMAND, 2) & pciRegs.PCI_COMMAND_MASTER).toBe(0);
    expect(() => vfio.mmioRead32(device, 0, 0)).toThrow(VfioNoDeviceError);
    vfio.close(device); // idempotent
    const again = vfio.open("00:04.0");
    expect(again.iommufd).toBeUndefined();
  });

  it("refuses BAR remaps and interrupt reconfiguration of a preserved device during an update, allows masks", () => {
    const { h, device, vfio, preserve } = bootVm();
    const other = new DmaEngine();
    h.machine.pci.attach(other, "00:05.0");
    const loose = vfio.open("00:05.0");
    preserve();
    h.prepare();
    expect(() => vfio.remapBar(device, 0, 0xd000_0000)).toThrow(LuoOperationRefusedError);
    expect(() => vfio.setIrqs(device, [0])).toThrow(LuoOperationRefusedError);
    expect(() => vfio.close(device)).toThrow(LuoOperationRefusedError);
    vfio.setVectorMask(device, 0, true); // dirty-tracked: re-serialized at freeze
    vfio.remapBar(loose, 0, 0xd000_0000); // not preserved: not guarded
    h.kernel.luo.cancel();
    vfio.remapBar(device, 0, 0xd800_0000);
  });
});
