import { type DeviceRunContext, Machine, MiB, PciFunction, pciRegs } from "@liveupdate/core";

/** A function with any spec and no behaviour (layout validation tests). */
export class SpecDevice extends PciFunction {
  protected resetDevice(): void {}
}

/**
 * A minimal device for bus tests: BAR 0 holds plain registers, BAR 2 the MSI-X table (at 0) and
 * PBA (at 0x800); each run it DMA-writes one byte at `target` and can raise a vector.
 */
export class TestDevice extends PciFunction {
  state = 0;
  target: number | undefined;
  lastDma: string | undefined = "none";

  constructor(vectors = 4) {
    super({
      vendorId: 0x1af4,
      deviceId: 0x10f0,
      classCode: 0x088000,
      bars: [
        { index: 0, size: 4096 },
        { index: 2, size: 4096, prefetchable: true },
      ],
      msix: { vectors, tableBar: 2, tableOffset: 0, pbaBar: 2, pbaOffset: 0x800 },
    });
  }

  fire(vector: number): void {
    this.raiseInterrupt(vector);
  }

  override run(_ctx: DeviceRunContext): void {
    if (this.target === undefined) return;
    this.lastDma = this.dmaWrite(this.target, new Uint8Array([0xab])) ?? "ok";
  }

  protected resetDevice(): void {
    this.state = 0;
    this.target = undefined;
  }
}

/** Enables memory space and bus mastering, programs BARs at `base`, enables MSI-X. */
export function enable(fn: PciFunction, base = 0xfe00_0000): void {
  fn.configWrite(pciRegs.PCI_BASE_ADDRESS_0, 4, base);
  fn.configWrite(pciRegs.PCI_BASE_ADDRESS_0 + 4, 4, 0);
  fn.configWrite(pciRegs.PCI_BASE_ADDRESS_0 + 8, 4, base + 0x10000);
  fn.configWrite(pciRegs.PCI_BASE_ADDRESS_0 + 12, 4, 0);
  fn.configWrite(pciRegs.PCI_COMMAND, 2, pciRegs.PCI_COMMAND_MEMORY | pciRegs.PCI_COMMAND_MASTER);
  const ctl = pciRegs.MSIX_CAP_OFFSET + pciRegs.PCI_MSIX_FLAGS;
  fn.configWrite(ctl, 2, fn.configRead(ctl, 2) | pciRegs.PCI_MSIX_FLAGS_ENABLE);
}

/** Programs MSI-X entry `entry` of BAR 2 with `message` and unmasks it unless `masked`. */
export function programVector(
  fn: PciFunction,
  entry: number,
  message: { address: number; data: number },
  masked = false,
): void {
  const base = entry * 16;
  fn.mmioWrite32(2, base, message.address);
  fn.mmioWrite32(2, base + 4, 0);
  fn.mmioWrite32(2, base + 8, message.data);
  fn.mmioWrite32(2, base + 12, masked ? 1 : 0);
}

/** A small manual-clock machine in stress mode. */
export function testMachine(seed = 1): Machine {
  return new Machine({ memory: 64 * MiB, manualClock: true, scheduler: { seed, stress: true } });
}
