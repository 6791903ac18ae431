import type { DmaFaultReason, DmaRemapper, DmaTranslation } from "../dma.js";
import type { InterruptController } from "../irq/controller.js";
import { InterruptCounters } from "../irq/counters.js";
import type { PhysicalMemory } from "../physical-memory.js";
import type { DeviceRunContext, ScheduledDevice } from "../scheduler/scheduler.js";
import { formatBdf, type PciAddress, requesterIdOf } from "./bdf.js";
import {
  EXP_CAP_OFFSET,
  MSIX_CAP_OFFSET,
  PCI_BASE_ADDRESS_0,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_COMMAND,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL_BCR_FLR,
  PCI_MSIX_FLAGS,
} from "./config-regs.js";
import { ConfigSpace } from "./config-space.js";
import { PciAccessError } from "./errors.js";
import { initConfigSpace, type PciFunctionSpec, validateSpec } from "./header.js";
import { type MsixEntryState, MsixState } from "./msix.js";

/** What the bus gives a function when it is attached. */
export interface PciAttachment {
  /** The function's address on the bus. */
  readonly address: PciAddress;
  /** Physical memory (DMA targets). */
  readonly memory: PhysicalMemory;
  /** The machine's interrupt controller. */
  readonly interrupts: InterruptController;
  /** The DMA remapper in front of the bus (the IOMMU, or identity); read at each translation. */
  readonly remapper: () => DmaRemapper;
}

/** Why a DMA access did not happen: a translation fault, bus mastering off, or no memory there. */
export type DmaFailure = DmaFaultReason | "bus-master-disabled" | "not-memory";

/** DMA and reset figures of one function (plain data in {@link PciFunction.snapshotCounters}). */
export interface PciFunctionCounters {
  /** Function-level resets. An update must never reset a preserved device. */
  resets: number;
  /** DMA accesses refused because bus mastering was off (not performed). */
  dmaBlocked: number;
  /** Translations requested from the remapper. */
  dmaTranslations: number;
  /** Translations that faulted. */
  dmaFaults: number;
  /** Translations that went untranslated (no IOMMU, or translation disabled). */
  dmaUntranslated: number;
  /** Accesses whose translated address was not memory. */
  dmaNotMemory: number;
}

/**
 * One PCI Express function: config space (ids, command register, BARs with sizing, a capability
 * list with MSI-X and PCI Express with FLR), BAR-mapped registers, MSI-X table and PBA in a BAR,
 * and DMA through the bus's remapper with requester id = BDF. Device models extend it: they
 * implement their registers ({@link PciFunction.readRegister}, {@link PciFunction.writeRegister}),
 * their work ({@link PciFunction.run}, called by the machine's scheduler) and their reset
 * ({@link PciFunction.resetDevice}).
 */
export abstract class PciFunction implements ScheduledDevice {
  /** Config space. */
  readonly config: ConfigSpace;
  /** Interrupt accounting (raised, delivered, coalesced, pending, lost). */
  readonly interruptCounters = new InterruptCounters();
  /** DMA and reset figures. */
  readonly counters: PciFunctionCounters = {
    resets: 0,
    dmaBlocked: 0,
    dmaTranslations: 0,
    dmaFaults: 0,
    dmaUntranslated: 0,
    dmaNotMemory: 0,
  };
  /** The declared layout. */
  readonly spec: PciFunctionSpec;
  /** MSI-X state, when the function has MSI-X. */
  protected readonly msix: MsixState | undefined;
  /** BAR contents (register backing), by BAR index. */
  protected readonly barBytes: Array<Uint8Array | undefined> = [];
  private attachment: PciAttachment | undefined;

  /**
   * @param spec - ids, BARs, MSI-X layout.
   * @throws {@link PciFunctionSpecError} for an impossible layout.
   */
  constructor(spec: PciFunctionSpec) {
    validateSpec(spec);
    this.spec = spec;
    this.config = new ConfigSpace(PCI_CFG_SPACE_EXP_SIZE, spec.name ?? "unattached");
    for (const bar of spec.bars) this.barBytes[bar.index] = new Uint8Array(bar.size);
    const owner = this;
    const layout = spec.msix;
    this.msix =
      layout === undefined
        ? undefined
        : new MsixState(layout, this.barBytes[layout.tableBar]!, {
            get name() {
              return owner.name;
            },
            interruptCounters: this.interruptCounters,
            messageControl: () => this.config.read(MSIX_CAP_OFFSET + PCI_MSIX_FLAGS, 2),
            busMaster: () => this.busMasterEnabled,
            get controller() {
              return owner.attachment?.interrupts;
            },
          });
    initConfigSpace(this.config, spec);
  }

  /** The function's address; throws until attached to a bus. */
  get address(): PciAddress {
    return this.attached().address;
  }

  /** `0000:bb:dd.f`, or `unattached`. Also the function's name with the scheduler. */
  get name(): string {
    return this.attachment === undefined ? "unattached" : formatBdf(this.attachment.address);
  }

  /** Requester id = BDF, as the IOMMU sees it. */
  get requesterId(): number {
    return requesterIdOf(this.attached().address);
  }

  /** Called by {@link PciBus.attach}. */
  attach(attachment: PciAttachment): void {
    this.attachment = attachment;
  }

  /** Whether the function is attached to a bus. */
  get isAttached(): boolean {
    return this.attachment !== undefined;
  }

  // ---- config space ----------------------------------------------------------------------------

  /** Config read (what `pci_read_config_*` does). */
  configRead(offset: number, size: 1 | 2 | 4): number {
    return this.config.read(offset, size);
  }

  /** Config write with its side effects: FLR, MSI-X enable/mask, bus master on (pending MSI-X sent). */
  configWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    const touches = (reg: number, len: number) => offset < reg + len && reg < offset + size;
    if (this.spec.flr !== false && touches(EXP_CAP_OFFSET + PCI_EXP_DEVCTL, 2)) {
      const shift = (EXP_CAP_OFFSET + PCI_EXP_DEVCTL - offset) * 8;
      const devctl = shift >= 0 ? value >>> shift : value << -shift;
      if ((devctl & PCI_EXP_DEVCTL_BCR_FLR) !== 0) {
        this.config.write(offset, size, value);
        this.functionLevelReset();
        return;
      }
    }
    this.config.write(offset, size, value);
    if (touches(PCI_COMMAND, 2) || touches(MSIX_CAP_OFFSET + PCI_MSIX_FLAGS, 2)) this.msix?.flush();
  }

  /** Command register: memory space decoding on. */
  get memorySpaceEnabled(): boolean {
    return (this.config.read(PCI_COMMAND, 2) & PCI_COMMAND_MEMORY) !== 0;
  }

  /** Command register: bus mastering on (DMA and MSI-X allowed). */
  get busMasterEnabled(): boolean {
    return (this.config.read(PCI_COMMAND, 2) & PCI_COMMAND_MASTER) !== 0;
  }

  /** The address software programmed into BAR `index` (0 when unprogrammed or not a BAR). */
  barAddress(index: number): number {
    const bar = this.spec.bars.find((b) => b.index === index);
    if (bar === undefined) return 0;
    const low = this.config.read(PCI_BASE_ADDRESS_0 + 4 * index, 4) & ~0xf;
    const high = bar.is64 === false ? 0 : this.config.read(PCI_BASE_ADDRESS_0 + 4 * (index + 1), 4);
    return high * 2 ** 32 + (low >>> 0);
  }

  /** Size of BAR `index` in bytes (0 when not implemented). */
  barSize(index: number): number {
    return this.spec.bars.find((b) => b.index === index)?.size ?? 0;
  }

  // ---- BAR (MMIO) accesses ---------------------------------------------------------------------

  /**
   * Reads a 4-byte register at `offset` of BAR `bar`. With memory space decoding off, reads return
   * all ones (a master abort), as on real hardware.
   *
   * @throws {@link PciAccessError} for an unimplemented BAR or an unaligned or out-of-range offset.
   */
  mmioRead32(bar: number, offset: number): number {
    const bytes = this.barChecked(bar, offset, "BAR read");
    if (!this.memorySpaceEnabled) return 0xffff_ffff;
    const msix = this.msix;
    if (msix !== undefined && bar === msix.layout.pbaBar) {
      const rel = offset - msix.layout.pbaOffset;
      if (rel >= 0 && rel < msix.pbaBytes) return msix.readPba(rel, 4);
    }
    if (this.inMsixTable(bar, offset)) return new DataView(bytes.buffer).getUint32(offset, true);
    return this.readRegister(bar, offset) >>> 0;
  }

  /**
   * Writes a 4-byte register at `offset` of BAR `bar` (dropped when memory space decoding is off).
   *
   * @throws {@link PciAccessError} as {@link PciFunction.mmioRead32}.
   */
  mmioWrite32(bar: number, offset: number, value: number): void {
    const bytes = this.barChecked(bar, offset, "BAR write");
    if (!this.memorySpaceEnabled) return;
    const msix = this.msix;
    if (msix !== undefined && bar === msix.layout.pbaBar) {
      const rel = offset - msix.layout.pbaOffset;
      if (rel >= 0 && rel < msix.pbaBytes) return; // the PBA is read-only
    }
    if (this.inMsixTable(bar, offset)) {
      new DataView(bytes.buffer).setUint32(offset, value >>> 0, true);
      msix!.flush();
      return;
    }
    this.writeRegister(bar, offset, value >>> 0);
  }

  /** Writes a 64-bit register as two dword writes, low first (numbers up to 2^53). */
  mmioWrite64(bar: number, offset: number, value: number): void {
    this.mmioWrite32(bar, offset, value % 2 ** 32);
    this.mmioWrite32(bar, offset + 4, Math.floor(value / 2 ** 32));
  }

  /** Reads a 64-bit register as two dword reads, low first. */
  mmioRead64(bar: number, offset: number): number {
    return this.mmioRead32(bar, offset) + this.mmioRead32(bar, offset + 4) * 2 ** 32;
  }

  // ---- reset -----------------------------------------------------------------------------------

  /**
   * Function-level reset (what writing Initiate FLR to Device Control does): config space back to
   * power-on values (command 0, BARs 0, MSI-X disabled, every vector masked), pending MSI-X bits
   * dropped (counted as lost: an FLR loses them), and the device's own state cleared. Counted in
   * {@link PciFunctionCounters.resets}.
   */
  functionLevelReset(): void {
    this.counters.resets++;
    initConfigSpace(this.config, this.spec);
    for (const bar of this.spec.bars) this.barBytes[bar.index]!.fill(0);
    if (this.msix !== undefined) {
      const dropped = this.msix.reset();
      this.interruptCounters.pending -= dropped;
      this.interruptCounters.lost += dropped;
    }
    this.resetDevice();
  }

  // ---- for device models -----------------------------------------------------------------------

  /** Does the work `context.budgetNs` allows; called by the machine's scheduler. Default: nothing. */
  run(_context: DeviceRunContext): void {}

  /** The device's own registers and figures, as plain JSON data (for `exportHardwareState`). */
  deviceState(): Readonly<Record<string, unknown>> {
    return {};
  }

  /** MSI-X table entries and pending bits (empty without MSI-X). */
  msixEntries(): MsixEntryState[] {
    return this.msix?.entries() ?? [];
  }

  /** Clears the device's own state at FLR. */
  protected abstract resetDevice(): void;

  /** A device register read (not the MSI-X table or PBA). Default: BAR bytes as plain storage. */
  protected readRegister(bar: number, offset: number): number {
    return new DataView(this.barBytes[bar]!.buffer).getUint32(offset, true);
  }

  /** A device register write (not the MSI-X table or PBA). Default: BAR bytes as plain storage. */
  protected writeRegister(bar: number, offset: number, value: number): void {
    new DataView(this.barBytes[bar]!.buffer).setUint32(offset, value, true);
  }

  /** Raises MSI-X vector `vector` (table index); latched while masked. Without MSI-X: counted lost. */
  protected raiseInterrupt(vector: number): void {
    if (this.msix === undefined || vector >= this.msix.layout.vectors) {
      this.interruptCounters.raised++;
      this.interruptCounters.lost++;
      return;
    }
    this.msix.raise(vector);
  }

  /** Physical memory, for moving translated bytes. */
  protected get memory(): PhysicalMemory {
    return this.attached().memory;
  }

  /**
   * Translates one DMA access through the bus's remapper with this function's requester id, or
   * returns `undefined` when bus mastering is off (counted in `dmaBlocked`, not performed).
   */
  protected translate(iova: number, write: boolean, pasid?: number): DmaTranslation | undefined {
    if (!this.busMasterEnabled) {
      this.counters.dmaBlocked++;
      return undefined;
    }
    const attachment = this.attached();
    const t = attachment.remapper().translate({
      requesterId: requesterIdOf(attachment.address),
      pasid,
      iova,
      write,
    });
    this.counters.dmaTranslations++;
    if (!t.ok) this.counters.dmaFaults++;
    else if (t.untranslated) this.counters.dmaUntranslated++;
    return t;
  }

  /** DMA read of `dest.length` bytes at `iova` (translated page by page). */
  protected dmaRead(iova: number, dest: Uint8Array, pasid?: number): DmaFailure | undefined {
    return this.dmaMove(iova, dest, false, pasid);
  }

  /** DMA write of `src` at `iova` (translated page by page). */
  protected dmaWrite(iova: number, src: Uint8Array, pasid?: number): DmaFailure | undefined {
    return this.dmaMove(iova, src, true, pasid);
  }

  private dmaMove(iova: number, bytes: Uint8Array, write: boolean, pasid?: number): DmaFailure | undefined {
    let done = 0;
    while (done < bytes.length) {
      const t = this.translate(iova + done, write, pasid);
      if (t === undefined) return "bus-master-disabled";
      if (!t.ok) return t.reason;
      const n = Math.min(t.contiguous, bytes.length - done);
      const part = bytes.subarray(done, done + n);
      try {
        if (write) this.memory.write(t.phys, part);
        else this.memory.readInto(t.phys, part);
      } catch {
        this.counters.dmaNotMemory++;
        return "not-memory";
      }
      done += n;
    }
    return undefined;
  }

  private attached(): PciAttachment {
    if (this.attachment === undefined) throw new PciAccessError("unattached", "use before attach", 0, 0);
    return this.attachment;
  }

  private barChecked(bar: number, offset: number, what: string): Uint8Array {
    const bytes = this.barBytes[bar];
    if (
      bytes === undefined ||
      !Number.isInteger(offset) ||
      offset < 0 ||
      offset + 4 > bytes.length ||
      offset % 4
    ) {
      throw new PciAccessError(this.name, `${what} (BAR ${bar})`, offset, 4);
    }
    return bytes;
  }

  private inMsixTable(bar: number, offset: number): boolean {
    const msix = this.msix;
    if (msix === undefined || bar !== msix.layout.tableBar) return false;
    const rel = offset - msix.layout.tableOffset;
    return rel >= 0 && rel < msix.layout.vectors * 16;
  }
}
