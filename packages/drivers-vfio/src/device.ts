import type { PciFunction } from "@liveupdate/core";
import type { IommufdDevice } from "@liveupdate/drivers-iommufd";

/**
 * What a VMM waits on for one MSI-X vector, as an eventfd: each interrupt the kernel's handler
 * receives adds one to the counter; {@link VfioEventHandle.read} returns the count and clears it.
 * Interrupts that arrived while no kernel had the vector wired (the blackout) are delivered late,
 * when the new kernel wires it at restore, and counted in {@link VfioEventHandle.late}.
 */
export class VfioEventHandle {
  private count = 0;
  /** Interrupts signalled since the handle was created. */
  total = 0;
  /** Of those, how many had been latched while the vector was unwired. */
  late = 0;
  /** Called on every signal (an irqfd injecting into the guest); optional. */
  listener: ((late: boolean) => void) | undefined;

  /** The kernel's handler signals the handle. */
  signal(late: boolean): void {
    this.count++;
    this.total++;
    if (late) this.late++;
    this.listener?.(late);
  }

  /** Reads and clears the counter (`read(2)` on an eventfd). */
  read(): number {
    const n = this.count;
    this.count = 0;
    return n;
  }
}

/** One MSI-X vector a device uses: its table index, the host vector, the VMM's mask, its event. */
export interface VfioVector {
  /** MSI-X table index. */
  readonly index: number;
  /** Host interrupt vector its message raises. */
  readonly hostVector: number;
  /** Whether the VMM masked it (`VFIO_IRQ_SET_ACTION_MASK`). */
  masked: boolean;
  /** Where its interrupts go. */
  readonly event: VfioEventHandle;
}

/**
 * An open vfio-pci device (a `/dev/vfio/devices/vfioN` file): the PCI function it owns, its iommufd
 * binding, the BARs the PCI core assigned and the MSI-X vectors wired to event handles. A device
 * preserved in a LUO session stays bound and running across the kexec; the next kernel's restore
 * hands back a new `VfioDevice` for the same, never reset, function.
 */
export class VfioDevice {
  /** Its iommufd binding (`VFIO_DEVICE_BIND_IOMMUFD`), once bound. */
  iommufd: IommufdDevice | undefined;
  /** Vectors in use, by MSI-X table index. */
  readonly vectors = new Map<number, VfioVector>();
  /** True while preserved in an update (between prepare and cancel or reboot). */
  preserved = false;
  /** True once closed. */
  closed = false;

  /**
   * @param fn - the PCI function.
   * @param bdf - its address, `0000:bb:dd.f`.
   * @param adopted - true when a restore handed it over from a previous kernel.
   */
  constructor(
    readonly fn: PciFunction,
    readonly bdf: string,
    readonly adopted: boolean,
  ) {}

  /** Requester id (the BDF as a 16-bit number), as the IOMMU sees it. */
  get requesterId(): number {
    return this.fn.requesterId;
  }
}
