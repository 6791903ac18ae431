import {
  type FlbRestoreContext,
  type FlbSerializeContext,
  formatBdf,
  hex,
  Kernel,
  LiveUpdateFlb,
  type OnFlbRestore,
  type OnFlbSerialize,
  type PciFunction,
} from "@liveupdate/core";
import { HOST_VECTORS, PCI_MMIO_WINDOW } from "../abi.js";
import { VfioNoSpaceError } from "../errors.js";
import { PciSerSchema, type PciSerV1Value } from "../schema.js";
import { COMMAND_MASTER, setCommandBits } from "./config-access.js";

/**
 * The PCI core of one boot, as far as passthrough needs it (an FLB shared by every preserved
 * vfio-pci device, compatible `pci-v1`): it assigns BARs from the MMIO window and host vectors to
 * MSI-X entries, knows which functions a driver claimed and which are preserved. It is serialized
 * at freeze, when every device of the update has been preserved.
 *
 * At reboot it clears bus mastering on every claimed function that is not preserved, as upstream's
 * shutdown path does (`pci_device_shutdown` → `pci_clear_master`, skipped for preserved devices):
 * such a device stops DMA and MSI before the next kernel runs. The next kernel adopts the
 * allocators and the list, so it neither reassigns a preserved device's BAR range or vectors nor
 * treats the device as new.
 */
@LiveUpdateFlb({ schema: PciSerSchema, serializeAt: "freeze" })
export class PciCore implements OnFlbSerialize<PciSerV1Value>, OnFlbRestore<PciSerV1Value> {
  private mmioNext: number = PCI_MMIO_WINDOW.base;
  private readonly vectorsInUse = new Set<number>();
  private readonly claimed = new Set<PciFunction>();
  private readonly preserved = new Set<number>();
  private readonly incomingValue = new Set<number>();

  /** @param kernel - the running kernel (its machine's bus and interrupt controller). */
  constructor(readonly kernel: Kernel) {
    kernel.addRebootParticipant({
      name: "pci",
      prepareReboot: () => {
        for (const fn of this.claimed)
          if (!this.preserved.has(fn.requesterId)) setCommandBits(fn, COMMAND_MASTER, false);
        return { keep: [] };
      },
    });
  }

  /** Requester ids a previous kernel preserved (empty on a cold boot, or before restore). */
  get incoming(): ReadonlySet<number> {
    return this.incomingValue;
  }

  /** Claims `fn` for a driver; false when already claimed. */
  claim(fn: PciFunction): boolean {
    if (this.claimed.has(fn)) return false;
    this.claimed.add(fn);
    return true;
  }

  /** Releases a claimed function. */
  release(fn: PciFunction): void {
    this.claimed.delete(fn);
    this.preserved.delete(fn.requesterId);
  }

  /** Marks a claimed function preserved (or not) across the next kexec. */
  setPreserved(fn: PciFunction, on: boolean): void {
    if (on) this.preserved.add(fn.requesterId);
    else this.preserved.delete(fn.requesterId);
  }

  /**
   * A naturally aligned range of `size` bytes in the MMIO window (`pci_assign_resource`).
   *
   * @throws {@link VfioNoSpaceError} when the window is full.
   */
  allocateMmio(size: number): number {
    const at = Math.ceil(this.mmioNext / size) * size;
    if (at + size > PCI_MMIO_WINDOW.end)
      throw new VfioNoSpaceError(`the MMIO window has no ${size} bytes left`, {
        size,
        next: hex(this.mmioNext),
      });
    this.mmioNext = at + size;
    return at;
  }

  /**
   * A free host vector.
   *
   * @throws {@link VfioNoSpaceError} when every vector is taken.
   */
  allocateVector(): number {
    for (let v = HOST_VECTORS.first; v <= HOST_VECTORS.last; v++) {
      if (!this.vectorsInUse.has(v)) {
        this.vectorsInUse.add(v);
        return v;
      }
    }
    throw new VfioNoSpaceError("no host interrupt vector left", {});
  }

  /** Marks an adopted vector taken; false when it already was. */
  claimVector(vector: number): boolean {
    if (this.vectorsInUse.has(vector)) return false;
    this.vectorsInUse.add(vector);
    return true;
  }

  /** Returns a vector. */
  releaseVector(vector: number): void {
    this.vectorsInUse.delete(vector);
  }

  /** The preserved devices, the BAR allocator and the vectors in use. */
  onSerialize(_ctx: FlbSerializeContext): PciSerV1Value {
    const words = [0n, 0n, 0n, 0n];
    for (const v of this.vectorsInUse) words[v >> 6]! |= 1n << BigInt(v & 63);
    const devices = [...this.preserved].sort((a, b) => a - b).map((bdf) => ({ domain: 0, bdf, refcount: 1 }));
    return { mmio_next: BigInt(this.mmioNext), vectors_in_use: words, devices };
  }

  /**
   * New kernel: adopts the allocators and the list of preserved devices. Vectors of preserved
   * devices stay taken until their driver adopts or releases them; nothing is written to a device.
   */
  onRestore(state: PciSerV1Value, _ctx: FlbRestoreContext): void {
    this.mmioNext = Math.max(this.mmioNext, Number(state.mmio_next));
    state.vectors_in_use.forEach((word, i) => {
      for (let bit = 0; bit < 64; bit++) if ((word >> BigInt(bit)) & 1n) this.vectorsInUse.add(i * 64 + bit);
    });
    for (const d of state.devices) this.incomingValue.add(d.bdf);
  }

  /** `0000:bb:dd.f` of a requester id (for messages). */
  static bdfOf(rid: number): string {
    return formatBdf({ bus: rid >> 8, device: (rid >> 3) & 0x1f, function: rid & 7 });
  }
}
