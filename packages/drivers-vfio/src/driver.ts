import {
  type CanPreserve,
  hex,
  Kernel,
  LiveUpdateDriver,
  Luo,
  msiMessage,
  type OnCancel,
  type OnPrepare,
  type OnRestore,
  type OnSerialize,
  PhaseGuard,
  type PrepareContext,
  type RestoreContext,
  type SerializeContext,
} from "@liveupdate/core";
import {
  type Hwpt,
  type IommufdContext,
  IommufdDriver,
  type NestedHwpt,
  NO_PASID,
} from "@liveupdate/drivers-iommufd";
import { VfioDevice, VfioEventHandle, type VfioVector } from "./device.js";
import {
  VfioBusyError,
  VfioInvalidArgumentError,
  VfioNoDeviceError,
  VfioNotPreservableError,
} from "./errors.js";
import {
  COMMAND_MASTER,
  COMMAND_MEMORY,
  enableMsix,
  initiateFlr,
  type MsixPlacement,
  msixPlacement,
  programBar,
  setCommandBits,
  setMsixMask,
  writeMsixEntry,
} from "./pci/config-access.js";
import { PciCore } from "./pci/pci-core.js";
import { adoptDevice } from "./restore/adopt.js";
import { snapshotDevice } from "./restore/snapshot.js";
import { VfioPciSchema, type VfioPciV2Value } from "./schema.js";

// #region declaration
/**
 * The vfio-pci driver: opens a PCI function by BDF for a VMM, binds it to an iommufd context,
 * assigns its BARs and gives the VMM access to them (the MSI-X table excepted: vectors are set up
 * through {@link VfioPciDriver.setIrqs}, as vfio-pci virtualizes the table), enables bus mastering
 * and wires MSI-X vectors to event handles.
 *
 * A device preserved in a LUO session stays bound and running across the kexec and is **never
 * reset**: the driver hands over its address, identity, a config-space snapshot, the BAR layout,
 * its vectors and the token of its iommufd context (`vfio-pci-v1`/`-v2`, with the PCI core's
 * `pci-v1` FLB). The next kernel checks the live device against the snapshot before adopting it,
 * then wires the same host vectors again — interrupts latched meanwhile are delivered then. A
 * mismatch resets the device (it cannot be trusted to keep doing DMA) and fails its restore; the
 * driver's restore policy decides whether that aborts the boot (`abort`, the default) or drops
 * the object and reports it (`reset`, see the testkit's `withRestorePolicy`).
 */
@LiveUpdateDriver({ schema: VfioPciSchema, flbs: [PciCore] })
export class VfioPciDriver
  implements
    CanPreserve,
    OnPrepare<VfioDevice>,
    OnSerialize<VfioDevice, VfioPciV2Value>,
    OnCancel<VfioDevice>,
    OnRestore<VfioDevice, VfioPciV2Value>
{
  /**
   * Receives its collaborators by constructor injection, from this boot's container.
   *
   * @param kernel - the running kernel (the machine's PCI bus and interrupt controller).
   * @param pci - the PCI core (FLB).
   * @param iommufd - iommufd (devices are bound to its contexts; restored first).
   * @param luo - the orchestrator (where the iommufd context of a device is preserved).
   */
  constructor(
    readonly kernel: Kernel,
    readonly pci: PciCore,
    readonly iommufd: IommufdDriver,
    readonly luo: Luo,
  ) {}
  // #endregion declaration

  // #region device
  /**
   * Opens the function at `bdf` (`"0000:00:04.0"`): claims it, resets it if it can (as vfio-pci
   * does on first open), assigns its BARs and enables memory decoding. Bus mastering stays off
   * until {@link VfioPciDriver.enableBusMaster}.
   *
   * @throws {@link VfioNoDeviceError} when nothing is there; {@link VfioBusyError} when already open.
   */
  open(bdf: string): VfioDevice {
    const fn = this.kernel.machine.pci.function(bdf);
    if (fn === undefined) throw new VfioNoDeviceError(`no PCI function at ${bdf}`, { bdf });
    if (this.pci.incoming.has(fn.requesterId))
      throw new VfioBusyError(
        `${fn.name} was preserved by the previous kernel: retrieve it from its session`,
        {
          bdf: fn.name,
        },
      );
    if (!this.pci.claim(fn)) throw new VfioBusyError(`${fn.name} is already open`, { bdf: fn.name });
    if (fn.spec.flr !== false) initiateFlr(fn);
    for (const bar of fn.spec.bars) programBar(fn, bar.index, this.pci.allocateMmio(bar.size));
    setCommandBits(fn, COMMAND_MEMORY, true);
    return new VfioDevice(fn, fn.name, false);
  }

  /**
   * Binds the device to an iommufd context (`VFIO_DEVICE_BIND_IOMMUFD`) and attaches it to
   * `hwpt` (without PASID, or at `pasid` for a nested HWPT of a vIOMMU guest).
   *
   * @throws {@link VfioBusyError} when already bound; iommufd's errors for the attach.
   */
  @PhaseGuard({ brownout: "refuse", description: "bind a device to an iommufd context" })
  bindIommufd(device: VfioDevice, ctx: IommufdContext, hwpt: Hwpt | NestedHwpt, pasid?: number): void {
    this.live(device);
    if (device.iommufd !== undefined)
      throw new VfioBusyError(`${device.bdf} is already bound to iommufd`, { bdf: device.bdf });
    const bound = this.iommufd.bind(ctx, device.bdf);
    this.iommufd.attach(bound, hwpt, pasid);
    device.iommufd = bound;
  }

  /** Enables bus mastering (`pci_set_master`): the device may DMA and send MSI-X from now on. */
  @PhaseGuard({ brownout: "refuse", description: "enable bus mastering" })
  enableBusMaster(device: VfioDevice): void {
    this.live(device);
    setCommandBits(device.fn, COMMAND_MASTER, true);
  }

  /**
   * Moves BAR `index` to `address` (a VMM relocating a BAR): naturally aligned, inside the MMIO
   * window. Refused during an update on a preserved device: the snapshot records the layout.
   *
   * @throws {@link VfioInvalidArgumentError} for a missing BAR or a misaligned address.
   */
  @PhaseGuard({ brownout: "refuse", description: "remap a BAR" })
  remapBar(device: VfioDevice, index: number, address: number): void {
    this.live(device);
    const size = device.fn.barSize(index);
    if (size === 0 || !Number.isSafeInteger(address) || address % size !== 0)
      throw new VfioInvalidArgumentError(`BAR ${index} of ${device.bdf} cannot move to ${hex(address)}`, {
        bdf: device.bdf,
        bar: index,
        address: hex(address),
      });
    programBar(device.fn, index, address);
  }

  /**
   * Wires MSI-X vectors `indices` (`VFIO_DEVICE_SET_IRQS` with eventfds): each gets a host vector,
   * its table entry's message and an event handle, and MSI-X is enabled. Refused during an update
   * on a preserved device: the snapshot records the interrupt configuration.
   *
   * @returns the event handles, in the order of `indices`.
   * @throws {@link VfioInvalidArgumentError} for an index outside the table or already wired.
   */
  @PhaseGuard({ brownout: "refuse", description: "reconfigure interrupts (MSI-X vectors)" })
  setIrqs(device: VfioDevice, indices: readonly number[]): VfioEventHandle[] {
    this.live(device);
    const m = this.placement(device);
    for (const index of indices)
      if (!Number.isInteger(index) || index < 0 || index >= m.vectors || device.vectors.has(index))
        throw new VfioInvalidArgumentError(`MSI-X vector ${index} of ${device.bdf} is not free`, {
          bdf: device.bdf,
          vector: index,
        });
    const handles = indices.map((index) => {
      const vector: VfioVector = {
        index,
        hostVector: this.pci.allocateVector(),
        masked: false,
        event: new VfioEventHandle(),
      };
      this.wire(vector);
      writeMsixEntry(device.fn, m, index, msiMessage(vector.hostVector), false);
      device.vectors.set(index, vector);
      return vector.event;
    });
    enableMsix(device.fn);
    return handles;
  }

  /**
   * Masks or unmasks vector `index` (`VFIO_IRQ_SET_ACTION_MASK`/`UNMASK`): a masked vector latches
   * in the PBA and is delivered on unmask. Allowed during brownout (re-serialized at freeze).
   *
   * @throws {@link VfioInvalidArgumentError} when the vector is not wired.
   */
  @PhaseGuard({ brownout: "dirty", description: "mask or unmask an MSI-X vector" })
  setVectorMask(device: VfioDevice, index: number, masked: boolean): void {
    this.live(device);
    const vector = device.vectors.get(index);
    if (vector === undefined)
      throw new VfioInvalidArgumentError(`MSI-X vector ${index} of ${device.bdf} is not wired`, {
        bdf: device.bdf,
        vector: index,
      });
    vector.masked = masked;
    setMsixMask(device.fn, this.placement(device), index, masked);
  }

  /**
   * Reads a 32-bit register of BAR `bar` for the VMM (a guest's MMIO access).
   *
   * @throws {@link VfioInvalidArgumentError} for the MSI-X table or PBA (virtualized, not mapped).
   */
  mmioRead32(device: VfioDevice, bar: number, offset: number): number {
    this.live(device);
    this.outsideMsix(device, bar, offset);
    return device.fn.mmioRead32(bar, offset);
  }

  /**
   * Writes a 32-bit register of BAR `bar` for the VMM. Not phase-guarded: the device's own
   * registers are the guest's, and the guest runs through brownout.
   *
   * @throws {@link VfioInvalidArgumentError} for the MSI-X table or PBA.
   */
  mmioWrite32(device: VfioDevice, bar: number, offset: number, value: number): void {
    this.live(device);
    this.outsideMsix(device, bar, offset);
    device.fn.mmioWrite32(bar, offset, value);
  }

  /**
   * Closes the device: unwires its vectors, detaches and unbinds it from iommufd, resets it (as
   * vfio-pci does on last close) and releases it.
   */
  @PhaseGuard({ brownout: "refuse", description: "close the device" })
  close(device: VfioDevice): void {
    if (device.closed) return;
    for (const v of device.vectors.values()) {
      this.kernel.machine.interrupts.unwire(v.hostVector);
      this.pci.releaseVector(v.hostVector);
    }
    device.vectors.clear();
    const bound = device.iommufd;
    if (bound !== undefined) {
      for (const a of [...bound.attachments.values()])
        this.iommufd.detach(bound, a.pasid === NO_PASID ? undefined : a.pasid);
      this.iommufd.unbind(bound);
      device.iommufd = undefined;
    }
    setCommandBits(device.fn, COMMAND_MASTER, false);
    if (device.fn.spec.flr !== false) initiateFlr(device.fn);
    this.pci.release(device.fn);
    device.closed = true;
  }
  // #endregion device

  // #region hooks
  /** Only open vfio-pci devices are ours. */
  canPreserve(object: unknown): boolean {
    return object instanceof VfioDevice && !object.closed;
  }

  /**
   * Brownout: the device must be bound to an iommufd context preserved in the same session (its
   * DMA goes on through those tables); the PCI core marks it preserved, so reboot keeps its bus
   * mastering on.
   *
   * @throws {@link VfioNotPreservableError} otherwise (the update is cancelled).
   */
  onPrepare(device: VfioDevice, p: PrepareContext): void {
    this.iommufdToken(device, p.session);
    this.pci.setPreserved(device.fn, true);
    device.preserved = true;
  }

  /** The device as a native (v2) value: address, identity, config snapshot, BARs, vectors, binding. */
  onSerialize(device: VfioDevice, s: SerializeContext): VfioPciV2Value {
    return snapshotDevice(device, this.iommufdToken(device, s.session), this.placement(device));
  }

  /** Cancel: the device is no longer kept running at reboot. */
  onCancel(device: VfioDevice): void {
    this.pci.setPreserved(device.fn, false);
    device.preserved = false;
  }

  /**
   * New kernel: checks the live function against the snapshot and the iommufd context restored
   * from the same session, then adopts it as it is — no reset, no config write — and wires its
   * host vectors again, which delivers the interrupts latched since the old kernel stopped.
   *
   * @throws `VfioDeviceMismatchError` (after resetting the device) or `VfioHandoverCorruptError`.
   */
  onRestore(state: VfioPciV2Value, r: RestoreContext): VfioDevice {
    const device = adoptDevice(state, r, {
      kernel: this.kernel,
      pci: this.pci,
      iommufd: this.iommufd,
      luo: this.luo,
    });
    for (const v of device.vectors.values()) this.wire(v);
    return device;
  }
  // #endregion hooks

  private wire(vector: VfioVector): void {
    this.kernel.machine.interrupts.wire(vector.hostVector, (d) => vector.event.signal(d.late));
  }

  private iommufdToken(device: VfioDevice, session: string): bigint {
    const ctx = device.iommufd?.ctx;
    const at = ctx === undefined ? undefined : this.luo.whereIs(ctx);
    if (at === undefined || at.session !== session)
      throw new VfioNotPreservableError(
        `${device.bdf} is not bound to an iommufd context preserved in session "${session}"`,
        { bdf: device.bdf, session },
      );
    return at.token;
  }

  private placement(device: VfioDevice): MsixPlacement {
    const m = msixPlacement(device.fn);
    if (m === undefined)
      throw new VfioInvalidArgumentError(`${device.bdf} has no MSI-X`, { bdf: device.bdf });
    return m;
  }

  private outsideMsix(device: VfioDevice, bar: number, offset: number): void {
    const m = msixPlacement(device.fn);
    if (m === undefined) return;
    const inTable = bar === m.tableBar && offset >= m.tableOffset && offset < m.tableOffset + m.vectors * 16;
    const inPba =
      bar === m.pbaBar && offset >= m.pbaOffset && offset < m.pbaOffset + Math.ceil(m.vectors / 64) * 8;
    if (inTable || inPba)
      throw new VfioInvalidArgumentError(
        `BAR ${bar} offset ${hex(offset)} of ${device.bdf} is the MSI-X ${inTable ? "table" : "PBA"}: use setIrqs`,
        { bdf: device.bdf, bar, offset: hex(offset) },
      );
  }

  private live(device: VfioDevice): void {
    if (device.closed) throw new VfioNoDeviceError(`${device.bdf} is closed`, { bdf: device.bdf });
  }
}
