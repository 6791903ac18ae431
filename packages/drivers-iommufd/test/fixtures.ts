/** Shared test fixtures: kernel builds with guestmemfs and iommufd, and a DMA probe device. */
import {
  type DeviceRunContext,
  defineKernelBuild,
  type Machine,
  type ScheduledDevice,
  type UpdatePhase,
} from "@liveupdate/core";
import { LiveUpdateHarness } from "@liveupdate/core/testkit";
import { GuestmemfsDriver } from "@liveupdate/guestmemfs";
import { IommufdDriver } from "../src/index.js";

export const MiB = 1024 * 1024;
export const KiB4 = 4096;

/** Two builds shipping guestmemfs and iommufd (native v2). */
export const buildA = defineKernelBuild({
  version: "6.18.0-iommufd-a",
  drivers: [GuestmemfsDriver, IommufdDriver],
  cmdline: "guestmemfs=64M",
});
export const buildB = defineKernelBuild({
  version: "6.18.0-iommufd-b",
  drivers: [GuestmemfsDriver, IommufdDriver],
  cmdline: "guestmemfs=64M",
});

/** Boots build A on a fresh machine. */
export function boot(options: { seed?: number } = {}) {
  const h = LiveUpdateHarness.boot({ from: buildA, to: buildB, memory: "1G", ...options });
  return { h, gm: h.driver(GuestmemfsDriver), fd: h.driver(IommufdDriver) };
}

/** One DMA target of the probe: an IOVA of a requester (with or without PASID). */
export interface ProbeTarget {
  readonly requesterId: number;
  readonly pasid?: number;
  readonly iova: number;
}

/**
 * A DMA device on the machine's schedule: each time it runs it writes a sequence number to each of
 * its targets through the IOMMU (translate, then a 4-byte write where it landed) and counts
 * successes and faults per update phase. It knows nothing of kernels.
 */
export class DmaProbe implements ScheduledDevice {
  readonly name: string;
  sequence = 0;
  readonly ok: Partial<Record<UpdatePhase, number>> = {};
  readonly faults: Partial<Record<UpdatePhase, number>> = {};
  untranslated = 0;
  /** Where the last write of each target landed (host-physical). */
  readonly landed = new Map<number, number>();

  constructor(
    private readonly machine: Machine,
    readonly targets: ProbeTarget[],
    name = "dma-probe",
  ) {
    this.name = name;
    machine.scheduler.register(this);
  }

  run(context: DeviceRunContext): void {
    this.sequence++;
    this.targets.forEach((t, i) => {
      const r = this.machine.iommu.translate({
        requesterId: t.requesterId,
        pasid: t.pasid,
        iova: t.iova,
        write: true,
      });
      if (!r.ok) {
        this.faults[context.phase] = (this.faults[context.phase] ?? 0) + 1;
        return;
      }
      if (r.untranslated) this.untranslated++;
      this.machine.memory.writeU32(r.phys, this.sequence);
      this.landed.set(i, r.phys);
      this.ok[context.phase] = (this.ok[context.phase] ?? 0) + 1;
    });
  }

  /** Faults over every phase. */
  totalFaults(): number {
    return Object.values(this.faults).reduce((a, b) => a + (b ?? 0), 0);
  }

  /** Successful writes over every phase. */
  totalOk(): number {
    return Object.values(this.ok).reduce((a, b) => a + (b ?? 0), 0);
  }

  /** Stops the device. */
  stop(): void {
    this.machine.scheduler.unregister(this);
  }
}

/**
 * One VM on build A: a 4 MiB RAM file, a context with one IOAS and one 4 KiB-page HWPT, the device
 * at 00:04.0 attached, the file mapped at IOVA 16 MiB; with `preserve`, file (token 1) and context
 * (token 2) are preserved in the default session.
 */
export function oneVm(options: { preserve?: boolean } = {}) {
  const env = boot();
  const { h, gm, fd } = env;
  const file = gm.create("ram", { size: 4 * MiB });
  const ctx = fd.open();
  const ioas = fd.ioasAlloc(ctx);
  const hwpt = fd.hwptAlloc(ioas, { largePages: false });
  const dev = fd.bind(ctx, "00:04.0");
  fd.attach(dev, hwpt);
  fd.map(ioas, { iova: 0x100_0000, file, length: 4 * MiB });
  if (options.preserve === true) {
    h.preserve(1, file);
    h.preserve(2, ctx);
  }
  return { ...env, file, ctx, ioas, hwpt, dev };
}
