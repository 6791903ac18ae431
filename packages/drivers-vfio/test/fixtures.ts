/** Shared test fixtures: kernel builds with guestmemfs, iommufd and vfio-pci, a VM with one DMA engine. */
import { dmaEngineAbi as abi, DmaEngine, defineKernelBuild, type KernelBuild } from "@liveupdate/core";
import { LiveUpdateHarness } from "@liveupdate/core/testkit";
import { type Hwpt, type IommufdContext, IommufdDriver } from "@liveupdate/drivers-iommufd";
import { type GuestmemFile, GuestmemfsDriver, type GuestmemMapping } from "@liveupdate/guestmemfs";
import { type VfioDevice, type VfioEventHandle, VfioPciDriver } from "../src/index.js";

export const MiB = 1024 * 1024;

/** Build A and build B: guestmemfs, iommufd and vfio-pci (native versions). */
export const buildA = defineKernelBuild({
  version: "6.18.0-vfio-a",
  drivers: [GuestmemfsDriver, IommufdDriver, VfioPciDriver],
  cmdline: "guestmemfs=64M",
});
export const buildB = defineKernelBuild({
  version: "6.18.0-vfio-b",
  drivers: [GuestmemfsDriver, IommufdDriver, VfioPciDriver],
  cmdline: "guestmemfs=64M",
});

/** Guest RAM layout of the test VM (guest-physical = IOVA = file offset). */
export const RING = 0;
export const COMPLETIONS = 0x1_0000;
export const SRC = MiB;
export const DST = 2 * MiB;
export const RING_SIZE = 64;
const CHUNK = 4096;

/**
 * The guest's driver of its DMA engine, as small as these tests need: a ring of static descriptors
 * (descriptor i copies source page i to destination page i mod 16 with CRC32) that the guest keeps
 * full by moving TAIL behind HEAD, through the VMM's BAR access.
 */
export class GuestRing {
  constructor(
    private vfio: VfioPciDriver,
    private device: VfioDevice,
    readonly ram: GuestmemMapping,
  ) {}

  /** After an update: the new kernel's driver and the restored device. */
  rebind(vfio: VfioPciDriver, device: VfioDevice): void {
    this.vfio = vfio;
    this.device = device;
  }

  /** Writes the ring and the source pages, then programs and enables the engine. */
  start(): void {
    for (let i = 0; i < RING_SIZE; i++) {
      const d = abi.encodeDescriptor({
        src: SRC + i * CHUNK,
        dst: DST + (i % 16) * CHUNK,
        completion: COMPLETIONS + i * abi.COMPLETION_SIZE,
        length: CHUNK,
        opcode: abi.OP_COPY_CRC32,
        flags: 0,
      });
      this.ram.write(RING + i * abi.DESCRIPTOR_SIZE, d);
      this.ram.write(SRC + i * CHUNK, new Uint8Array(CHUNK).fill(i + 1));
    }
    const R = abi.REG;
    this.write(R.RING_BASE_LO, RING);
    this.write(R.RING_BASE_HI, 0);
    this.write(R.RING_SIZE, RING_SIZE);
    this.write(R.IRQ_BATCH, 8);
    this.write(R.CONTROL, abi.CONTROL_ENABLE);
    this.kick();
  }

  /** The vCPU's work: post everything the engine has consumed (TAIL one behind HEAD). */
  kick(): void {
    const head = this.vfio.mmioRead32(this.device, 0, abi.REG.HEAD);
    this.write(abi.REG.TAIL, (head + RING_SIZE - 1) % RING_SIZE);
  }

  /** Descriptors the engine completed (its COMPLETED register). */
  completed(): number {
    return this.vfio.mmioRead32(this.device, 0, abi.REG.COMPLETED);
  }

  private write(offset: number, value: number): void {
    this.vfio.mmioWrite32(this.device, 0, offset, value);
  }
}

/** A booted harness with a VM: 8 MiB of guestmemfs RAM mapped at IOVA 0, one DMA engine at 00:04.0. */
export function bootVm(options: { from?: KernelBuild; to?: KernelBuild; seed?: number } = {}) {
  // A manual clock: machine time moves only at preemption points and when a test runs the machine.
  const h = LiveUpdateHarness.boot({ from: buildA, to: buildB, memory: "1G", manualClock: true, ...options });
  const engine = new DmaEngine({ bandwidth: 1e9 });
  h.machine.pci.attach(engine, "00:04.0");
  const gm = h.driver(GuestmemfsDriver);
  const fd = h.driver(IommufdDriver);
  const vfio = h.driver(VfioPciDriver);
  const file: GuestmemFile = gm.create("vm-ram", { size: 8 * MiB });
  const ram = gm.mmap(file);
  const ctx: IommufdContext = fd.open();
  const ioas = fd.ioasAlloc(ctx);
  const hwpt: Hwpt = fd.hwptAlloc(ioas);
  fd.map(ioas, { iova: 0, file, length: 8 * MiB });
  const device = vfio.open("00:04.0");
  vfio.bindIommufd(device, ctx, hwpt);
  vfio.enableBusMaster(device);
  const [event] = vfio.setIrqs(device, [0]) as [VfioEventHandle];
  const ring = new GuestRing(vfio, device, ram);
  ring.start();
  /** Preserves the VM's objects in the default session: file 1, iommufd 2, device 3. */
  const preserve = () => {
    h.preserve(1, file);
    h.preserve(2, ctx);
    h.preserve(3, device);
  };
  return { h, engine, gm, fd, vfio, file, ram, ctx, ioas, hwpt, device, event, ring, preserve };
}
