import {
  formatBdf,
  PciAccessError,
  PciAddressError,
  type PciFunctionSpec,
  PciFunctionSpecError,
  parseBdf,
  pciRegs,
} from "@liveupdate/core";
import { describe, expect, it } from "vitest";
import { enable, SpecDevice, TestDevice, testMachine } from "./pci-fixtures.js";

const R = pciRegs;

describe("PCI bus and config space", () => {
  it("keeps functions at stable BDFs; requester id = BDF; refuses taken or malformed addresses", () => {
    const machine = testMachine();
    const a = new TestDevice();
    const b = new TestDevice();
    machine.pci.attach(a, "00:04.0");
    machine.pci.attach(b, { bus: 3, device: 0x1f, function: 7 });
    expect(a.name).toBe("0000:00:04.0");
    expect(a.requesterId).toBe(0x20);
    expect(b.requesterId).toBe((3 << 8) | (0x1f << 3) | 7);
    expect(machine.pci.function("0000:03:1f.7")).toBe(b);
    expect(machine.pci.list()).toEqual([a, b]);
    expect(machine.scheduler.devices()).toEqual(["0000:00:04.0", "0000:03:1f.7"]);
    expect(() => machine.pci.attach(new TestDevice(), "00:04.0")).toThrow(PciAddressError);
    expect(() => machine.pci.attach(a, "00:05.0")).toThrow(PciAddressError);
    expect(() => parseBdf("00:20.0")).toThrow(PciAddressError);
    expect(() => parseBdf("0001:00:00.0")).toThrow(PciAddressError);
    expect(formatBdf(parseBdf("0000:0a:1b.3"))).toBe("0000:0a:1b.3");
  });

  it("has read-only ids, a writable command register and a capability list with MSI-X and PCIe FLR", () => {
    const fn = new TestDevice();
    testMachine().pci.attach(fn, "00:02.0");
    expect(fn.configRead(R.PCI_VENDOR_ID, 2)).toBe(0x1af4);
    expect(fn.configRead(R.PCI_DEVICE_ID, 2)).toBe(0x10f0);
    fn.configWrite(R.PCI_VENDOR_ID, 4, 0xffff_ffff);
    expect(fn.configRead(R.PCI_VENDOR_ID, 4)).toBe((0x10f0 << 16) | 0x1af4);
    expect(fn.configRead(R.PCI_CLASS_PROG + 1, 2)).toBe(0x0880);
    fn.configWrite(R.PCI_COMMAND, 2, 0xffff);
    expect(fn.configRead(R.PCI_COMMAND, 2)).toBe(
      R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER | R.PCI_COMMAND_INTX_DISABLE,
    );
    expect(fn.configRead(R.PCI_STATUS, 2) & R.PCI_STATUS_CAP_LIST).toBeTruthy();
    // Walk the capability list as a kernel does.
    const caps: number[] = [];
    for (let p = fn.configRead(R.PCI_CAPABILITY_LIST, 1); p !== 0; p = fn.configRead(p + 1, 1)) {
      caps.push(fn.configRead(p, 1));
    }
    expect(caps).toEqual([R.PCI_CAP_ID_MSIX, R.PCI_CAP_ID_EXP]);
    const msix = R.MSIX_CAP_OFFSET;
    expect(fn.configRead(msix + R.PCI_MSIX_FLAGS, 2) & R.PCI_MSIX_FLAGS_QSIZE).toBe(3); // 4 vectors
    expect(fn.configRead(msix + R.PCI_MSIX_TABLE, 4)).toBe(2); // BIR 2, offset 0
    expect(fn.configRead(msix + R.PCI_MSIX_PBA, 4)).toBe(0x800 | 2);
    expect(fn.configRead(R.EXP_CAP_OFFSET + R.PCI_EXP_DEVCAP, 4) & R.PCI_EXP_DEVCAP_FLR).toBeTruthy();
    expect(() => fn.configRead(4095, 2)).toThrow(PciAccessError);
    expect(() => fn.configRead(4096, 1)).toThrow(PciAccessError);
  });

  it("sizes BARs: all ones written, the size mask and type bits read back (64-bit upper half too)", () => {
    const fn = new TestDevice();
    testMachine().pci.attach(fn, "00:02.0");
    const bar0 = R.PCI_BASE_ADDRESS_0;
    expect(fn.configRead(bar0, 4)).toBe(R.PCI_BASE_ADDRESS_MEM_TYPE_64);
    fn.configWrite(bar0, 4, 0xffff_ffff);
    fn.configWrite(bar0 + 4, 4, 0xffff_ffff);
    const low = fn.configRead(bar0, 4);
    expect(((~(low & ~0xf) >>> 0) + 1) >>> 0).toBe(4096);
    expect(low & 0xf).toBe(R.PCI_BASE_ADDRESS_MEM_TYPE_64);
    expect(fn.configRead(bar0 + 4, 4)).toBe(0xffff_ffff);
    const bar2 = bar0 + 8;
    fn.configWrite(bar2, 4, 0xffff_ffff);
    expect(fn.configRead(bar2, 4) & 0xf).toBe(
      R.PCI_BASE_ADDRESS_MEM_TYPE_64 | R.PCI_BASE_ADDRESS_MEM_PREFETCH,
    );
    // An unimplemented BAR reads 0 and stays 0.
    fn.configWrite(bar0 + 16, 4, 0xffff_ffff);
    expect(fn.configRead(bar0 + 16, 4)).toBe(0);
    fn.configWrite(bar0, 4, 0x1234_5000);
    fn.configWrite(bar0 + 4, 4, 0x1);
    expect(fn.barAddress(0)).toBe(0x1_1234_5000);
  });

  it("routes MMIO to the BAR that decodes it, only with memory space on; reads all ones otherwise", () => {
    const machine = testMachine();
    const fn = new TestDevice();
    machine.pci.attach(fn, "00:03.0");
    fn.configWrite(R.PCI_BASE_ADDRESS_0, 4, 0xfe00_0000);
    expect(machine.pci.mmioRead32(0xfe00_0010)).toBe(0xffff_ffff);
    expect(fn.mmioRead32(0, 0x10)).toBe(0xffff_ffff);
    fn.configWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
    machine.pci.mmioWrite32(0xfe00_0010, 0xcafe);
    expect(fn.mmioRead32(0, 0x10)).toBe(0xcafe);
    expect(machine.pci.mmioRead32(0xfe00_0010)).toBe(0xcafe);
    expect(machine.pci.mmioRead32(0xfd00_0000)).toBe(0xffff_ffff);
    expect(() => fn.mmioRead32(0, 4096)).toThrow(PciAccessError);
    expect(() => fn.mmioRead32(1, 0)).toThrow(PciAccessError);
    expect(() => fn.mmioRead32(0, 2)).toThrow(PciAccessError);
  });

  it("blocks and counts DMA while bus mastering is off; performs it when on", () => {
    const machine = testMachine();
    const fn = new TestDevice();
    machine.pci.attach(fn, "00:03.0");
    fn.target = 0x10_0000;
    machine.idle();
    expect(fn.lastDma).toBe("bus-master-disabled");
    expect(fn.counters.dmaBlocked).toBe(1);
    expect(machine.memory.readU8(0x10_0000)).toBe(0);
    enable(fn);
    machine.idle();
    expect(fn.lastDma).toBe("ok");
    expect(machine.memory.readU8(0x10_0000)).toBe(0xab);
    expect(fn.counters.dmaUntranslated).toBe(1); // no IOMMU in front of the bus yet: identity
    fn.target = 0xffff_f000_0000;
    machine.idle();
    expect(fn.lastDma).toBe("not-memory");
  });

  it("resets the function on FLR (Device Control bit 15): config, BARs, MSI-X and device state; counted", () => {
    const machine = testMachine();
    const fn = new TestDevice();
    machine.pci.attach(fn, "00:03.0");
    enable(fn);
    fn.state = 42;
    fn.mmioWrite32(0, 0x10, 7);
    fn.fire(1); // masked entry: pending
    expect(fn.interruptCounters.pending).toBe(1);
    const devctl = R.EXP_CAP_OFFSET + R.PCI_EXP_DEVCTL;
    fn.configWrite(devctl, 2, R.PCI_EXP_DEVCTL_BCR_FLR);
    expect(fn.counters.resets).toBe(1);
    expect(fn.state).toBe(0);
    expect(fn.configRead(R.PCI_COMMAND, 2)).toBe(0);
    expect(fn.barAddress(0)).toBe(0);
    expect(fn.configRead(devctl, 2) & R.PCI_EXP_DEVCTL_BCR_FLR).toBe(0);
    expect(fn.configRead(R.MSIX_CAP_OFFSET + R.PCI_MSIX_FLAGS, 2) & R.PCI_MSIX_FLAGS_ENABLE).toBe(0);
    // The pending interrupt is gone with the reset: counted as lost, never silently.
    expect(fn.interruptCounters.snapshot()).toMatchObject({ raised: 1, pending: 0, lost: 1 });
    enable(fn);
    expect(fn.mmioRead32(0, 0x10)).toBe(0);
    expect(fn.mmioRead32(2, 12)).toBe(1); // every vector masked again
    fn.functionLevelReset();
    expect(fn.counters.resets).toBe(2);
  });

  it("refuses impossible function layouts with typed errors", () => {
    const base = { vendorId: 1, deviceId: 2, classCode: 0 };
    const msix = (m: object) => ({
      vectors: 4,
      tableBar: 0,
      tableOffset: 0,
      pbaBar: 0,
      pbaOffset: 0x800,
      ...m,
    });
    const bar0 = [{ index: 0, size: 4096 }];
    const bad: PciFunctionSpec[] = [
      { ...base, bars: [{ index: 0, size: 3000 }] },
      { ...base, bars: [{ index: 0, size: 8 }] },
      { ...base, bars: [{ index: 5, size: 4096 }] },
      { ...base, bars: [bar0[0]!, { index: 1, size: 4096 }] },
      { ...base, bars: bar0, msix: msix({ tableBar: 2 }) },
      { ...base, bars: bar0, msix: msix({ pbaOffset: 0x20 }) },
      { ...base, bars: bar0, msix: msix({ pbaOffset: 0x1000 }) },
      { ...base, bars: bar0, msix: msix({ vectors: 0 }) },
    ];
    for (const spec of bad) expect(() => new SpecDevice(spec)).toThrow(PciFunctionSpecError);
    expect(() => new SpecDevice({ ...base, bars: bar0, msix: msix({}) })).not.toThrow();
  });
});
