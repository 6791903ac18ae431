import type { IommufdContext } from "@liveupdate/drivers-iommufd";
import type { VfioDevice, VfioEventHandle, VfioPciDriver } from "@liveupdate/drivers-vfio";
import type { GuestmemFile, GuestmemMapping } from "@liveupdate/guestmemfs";
import { VmmStateError } from "./errors.js";
import type { DmaWorkload } from "./guest/dma-workload.js";
import type { VmSpec } from "./spec.js";

/** One passthrough device of a VM. */
export interface VmDevice {
  /** Its BDF. */
  readonly bdf: string;
  /** The open vfio-pci device (the current kernel's). */
  device: VfioDevice;
  /** The event handle of its completion vector. */
  event: VfioEventHandle;
  /** The guest's driver of it. */
  readonly workload: DmaWorkload;
}

/**
 * A running VM: guestmemfs RAM (guest-physical = file offset), an iommufd context whose IOAS maps
 * that RAM, passthrough DMA engines through vfio-pci, and optionally a vIOMMU. Its vCPUs run the
 * guest's drivers (they post work to the devices) until paused; the devices never pause — they
 * run on the machine's schedule.
 */
export class Vm {
  /** The guest's interrupts (completion vectors) delivered through the devices' event handles. */
  interrupts = 0;
  private vcpusRunning = true;

  /**
   * @param spec - what it is made of.
   * @param file - its RAM file.
   * @param ram - its RAM mapping (the current kernel's).
   * @param ctx - its iommufd context (the current kernel's).
   * @param devices - its passthrough devices.
   * @param vfio - the current kernel's vfio-pci driver.
   */
  constructor(
    readonly spec: VmSpec,
    public file: GuestmemFile,
    public ram: GuestmemMapping,
    public ctx: IommufdContext,
    readonly devices: VmDevice[],
    public vfio: VfioPciDriver,
  ) {
    for (const d of devices) this.listen(d);
  }

  /** Its name (and its session's). */
  get name(): string {
    return this.spec.name;
  }

  /** Whether the vCPUs run. */
  get running(): boolean {
    return this.vcpusRunning;
  }

  /** Pauses the vCPUs (for the blackout). The devices go on. */
  pause(): void {
    if (!this.vcpusRunning) throw new VmmStateError(`VM ${this.name} is already paused`, { vm: this.name });
    this.vcpusRunning = false;
  }

  /** Resumes the vCPUs. */
  resume(): void {
    if (this.vcpusRunning) throw new VmmStateError(`VM ${this.name} is running`, { vm: this.name });
    this.vcpusRunning = true;
  }

  /** One slice of vCPU time: the guest's drivers post what their devices consumed. No-op when paused. */
  runVcpus(): void {
    if (!this.vcpusRunning) return;
    for (const d of this.devices) d.workload.kick();
  }

  /** Adopts what the new kernel restored (the VMM re-attaches to the VM after the update). */
  reattach(parts: {
    file: GuestmemFile;
    ram: GuestmemMapping;
    ctx: IommufdContext;
    vfio: VfioPciDriver;
    devices: readonly VfioDevice[];
  }): void {
    this.file = parts.file;
    this.ram = parts.ram;
    this.ctx = parts.ctx;
    this.vfio = parts.vfio;
    this.devices.forEach((d, i) => {
      d.device = parts.devices[i]!;
      d.event = d.device.vectors.get(0)!.event;
      d.workload.rebind(parts.ram, { vfio: parts.vfio, device: d.device });
      this.listen(d);
    });
  }

  private listen(d: VmDevice): void {
    // An irqfd: each signal is an interrupt injected into the guest; what arrived before the VMM
    // re-attached (latched through the blackout) is counted once, from the handle's counter.
    this.interrupts += d.event.read();
    d.event.listener = () => {
      this.interrupts += d.event.read();
    };
  }
}
