import { type IncomingSession, isAligned, type LiveUpdateKernel, MiB, Prng } from "@liveupdate/core";
import { type IommufdContext, IommufdDriver } from "@liveupdate/drivers-iommufd";
import { type VfioDevice, VfioPciDriver } from "@liveupdate/drivers-vfio";
import { type GuestmemFile, GuestmemfsDriver, type GuestmemMapping } from "@liveupdate/guestmemfs";
import { VmmConfigError, VmmResumeError } from "./errors.js";
import { DEFAULT_WORKLOAD, DmaWorkload, WORKLOAD_REGION } from "./guest/dma-workload.js";
import { GuestFirstStageTables } from "./guest/page-tables.js";
import { GUEST_LAYOUT, MIN_VM_MEMORY, type VmSpec } from "./spec.js";
import { Vm, type VmDevice } from "./vm.js";

/** Tokens of a VM's objects in its session. */
export const VM_TOKENS = Object.freeze({ ram: 1, iommufd: 2, firstDevice: 3 });

/** Page of the guest's own data number `i` (upper half of RAM, one per 2 MiB step). */
export function guestDataPage(memoryBytes: number, i: number): number {
  const step = Math.floor(memoryBytes / 2 / GUEST_LAYOUT.dataPages / (2 * MiB)) * 2 * MiB;
  return memoryBytes / 2 + i * step + 0x1000;
}

/**
 * The VMM model: it runs VMs on one live-update kernel through the kernel's public driver APIs —
 * guestmemfs for RAM, iommufd for DMA translation, vfio-pci for passthrough devices — and keeps them
 * running across a live update. Before the update it preserves every VM's objects in a session named
 * after the VM; after the kexec a new `Vmm` on the new kernel ({@link Vmm.resume}) retrieves the
 * sessions by name and re-attaches the VMs. vCPUs pause only for the blackout; the devices never
 * pause.
 *
 * @example
 * ```ts
 * const vmm = new Vmm(lk);
 * vmm.createVm({ name: "vm0", memoryBytes: 1 * GiB, devices: ["00:04.0"] });
 * vmm.preserveAll();
 * ```
 */
export class Vmm {
  /** The VMs, by name. */
  readonly vms = new Map<string, Vm>();
  /** VMs that could not resume after the update, with why. */
  readonly failed = new Map<string, VmmResumeError>();
  /** Sessions retrieved at resume, until finished. */
  private readonly incoming = new Map<string, IncomingSession>();

  /** @param lk - the kernel the VMM runs on. */
  constructor(readonly lk: LiveUpdateKernel) {}

  /**
   * Creates and starts a VM: its RAM file (the guest's data written into it), an iommufd context
   * whose IOAS maps the RAM at IOVA 0 (guest-physical = IOVA), its devices opened, bound, wired and
   * started, and with `viommu` a vIOMMU whose nested HWPT points at the guest's own tables.
   *
   * @throws {@link VmmConfigError} for an invalid spec; the drivers' typed errors.
   */
  createVm(spec: VmSpec): Vm {
    this.check(spec);
    const gm = this.lk.driver(GuestmemfsDriver);
    const fd = this.lk.driver(IommufdDriver);
    const vfio = this.lk.driver(VfioPciDriver);
    const file = gm.create(`${spec.name}.ram`, { size: spec.memoryBytes });
    const ram = gm.mmap(file);
    writeGuestData(ram, spec);
    const ctx = fd.open();
    const ioas = fd.ioasAlloc(ctx);
    const viommu = spec.viommu === true;
    const parent = fd.hwptAlloc(ioas, { nestParent: viommu });
    fd.map(ioas, { iova: 0, file, length: spec.memoryBytes });
    const iovaBase = viommu ? GUEST_LAYOUT.viommuIovaBase : 0;
    let attach: (device: VfioDevice, index: number) => void = (device) =>
      vfio.bindIommufd(device, ctx, parent);
    if (viommu) {
      const tables = new GuestFirstStageTables(ram, GUEST_LAYOUT.pageTablePool);
      spec.devices.forEach((_, d) => {
        const base = regionOf(d);
        tables.map(iovaBase + base, base, WORKLOAD_REGION);
      });
      const v = fd.viommuAlloc(parent);
      const nested = fd.nestedAlloc(v, tables.root);
      attach = (device, index) => {
        vfio.bindIommufd(device, ctx, nested, GUEST_LAYOUT.viommuPasid);
        fd.vdeviceAlloc(v, device.iommufd!, index + 1);
      };
    }
    const devices: VmDevice[] = spec.devices.map((bdf, d) => {
      const device = vfio.open(bdf);
      attach(device, d);
      vfio.enableBusMaster(device);
      const [event] = vfio.setIrqs(device, [0]);
      const workload = new DmaWorkload(
        { base: regionOf(d), iovaBase, ...DEFAULT_WORKLOAD, ...spec.workload },
        ram,
        { vfio, device },
      );
      if (viommu) workload.usePasid(GUEST_LAYOUT.viommuPasid);
      workload.start((spec.seed ?? 1) * 1000 + d);
      return { bdf: device.bdf, device, event: event!, workload };
    });
    const vm = new Vm(spec, file, ram, ctx, devices, vfio);
    this.vms.set(spec.name, vm);
    return vm;
  }

  /**
   * Preserves every VM's objects in a session named after it: RAM, iommufd context, devices. A VM
   * whose session exists already (an update was cancelled: its objects stay preserved) is left as
   * it is.
   */
  preserveAll(): void {
    for (const vm of this.vms.values()) {
      if (this.lk.luo.session(vm.name) !== undefined) continue;
      const session = this.lk.luo.createSession(vm.name);
      session.preserve(VM_TOKENS.ram, vm.file);
      session.preserve(VM_TOKENS.iommufd, vm.ctx);
      vm.devices.forEach((d, i) => {
        session.preserve(VM_TOKENS.firstDevice + i, d.device);
      });
    }
  }

  /** One turn of the VMM's loop: the machine runs for `ns` (devices work), then every running vCPU. */
  step(ns: number): void {
    this.lk.machine.run(ns);
    for (const vm of this.vms.values()) vm.runVcpus();
  }

  /**
   * Quiesces every device for a measurement: the guests withdraw what they posted but the devices
   * did not start, and the machine runs (in slices of `sliceNs`) until each device finished the
   * descriptor in flight, for at most `budgetNs` of machine time.
   *
   * @returns whether every device is idle.
   */
  quiesce(budgetNs = 50_000_000, sliceNs = 100_000): boolean {
    const workloads = [...this.vms.values()].flatMap((vm) => vm.devices.map((d) => d.workload));
    for (const w of workloads) w.withdraw();
    for (let spent = 0; spent < budgetNs; spent += sliceNs) {
      if (workloads.every((w) => w.idle || w.halted)) return workloads.every((w) => w.idle && !w.halted);
      this.lk.machine.run(sliceNs);
    }
    return false;
  }

  /** Pauses every VM's vCPUs (the blackout starts). */
  pauseAll(): void {
    for (const vm of this.vms.values()) if (vm.running) vm.pause();
  }

  /**
   * The new VMM after the update: on the new kernel `lk`, retrieves each VM's session by name and
   * its objects by token (RAM file, iommufd context, devices — restore is lazy, so this is when they
   * are adopted), maps the RAM again and re-attaches the VMs, marks them resumed (the end of the
   * blackout) and resumes their vCPUs.
   *
   * @param lk - the new kernel.
   * A VM whose session or objects cannot be retrieved (missing, reset by a restore policy, refused
   * by its driver's checks) does not resume: it is left out of `vms` and its {@link VmmResumeError}
   * is in {@link Vmm.failed}; the others resume.
   *
   * @param vms - the VMs of the previous VMM (their guests kept running; only the VMM restarted).
   */
  static resume(lk: LiveUpdateKernel, vms: Iterable<Vm>): Vmm {
    const vmm = new Vmm(lk);
    const gm = lk.driver(GuestmemfsDriver);
    const vfio = lk.driver(VfioPciDriver);
    for (const vm of vms) {
      try {
        const session = lk.luo.retrieveSession(vm.name);
        vmm.incoming.set(vm.name, session);
        const file = session.retrieve(VM_TOKENS.ram) as GuestmemFile;
        const ctx = session.retrieve(VM_TOKENS.iommufd) as IommufdContext;
        const devices = vm.devices.map((_, i) => session.retrieve(VM_TOKENS.firstDevice + i) as VfioDevice);
        const ram: GuestmemMapping = gm.mmap(file);
        vm.reattach({ file, ram, ctx, vfio, devices });
        vmm.vms.set(vm.name, vm);
      } catch (error) {
        vmm.failed.set(
          vm.name,
          new VmmResumeError(
            `VM ${vm.name} cannot resume: ${error instanceof Error ? error.message : String(error)}`,
            { vm: vm.name },
            { cause: error },
          ),
        );
      }
    }
    lk.luo.markResumed();
    for (const vm of vmm.vms.values()) if (!vm.running) vm.resume();
    return vmm;
  }

  /**
   * Finishes the update for the VMs (upstream `LIVEUPDATE_SESSION_FINISH` on each session): the
   * drivers drop what they kept for the restore, and the VMs can be preserved again for the next
   * update.
   *
   * @throws `LuoSessionBusyError` when an object refuses to finish yet.
   */
  finishUpdate(): void {
    for (const name of this.vms.keys()) this.incoming.get(name)?.finish();
    this.incoming.clear();
  }

  private check(spec: VmSpec): void {
    const bad = (field: string, why: string): never => {
      throw new VmmConfigError(`VM ${spec.name}: ${field} ${why}`, { vm: spec.name, field });
    };
    if (this.vms.has(spec.name)) bad("name", "is taken");
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,46}$/.test(spec.name))
      bad("name", "must be 1-47 letters, digits, . _ -");
    if (
      !Number.isSafeInteger(spec.memoryBytes) ||
      spec.memoryBytes < MIN_VM_MEMORY ||
      !isAligned(spec.memoryBytes, 2 * MiB)
    )
      bad("memoryBytes", `must be a multiple of 2 MiB of at least ${MIN_VM_MEMORY / MiB} MiB`);
    if (regionOf(spec.devices.length) > spec.memoryBytes / 2)
      bad("devices", `do not fit: ${spec.devices.length} workloads of 4 MiB in the lower half of RAM`);
    if (new Set(spec.devices).size !== spec.devices.length) bad("devices", "name a BDF twice");
  }
}

/** Guest-physical base of device `d`'s workload region. */
function regionOf(d: number): number {
  return GUEST_LAYOUT.workloads + d * WORKLOAD_REGION;
}

/** The guest's own data: seeded 4 KiB pages across the upper half of RAM, which must survive untouched. */
function writeGuestData(ram: GuestmemMapping, spec: VmSpec): void {
  const rng = new Prng(spec.seed ?? 1);
  for (let i = 0; i < GUEST_LAYOUT.dataPages; i++) {
    const page = new Uint8Array(4096);
    const view = new DataView(page.buffer);
    for (let at = 0; at < page.length; at += 4) view.setUint32(at, rng.int(0, 2 ** 32 - 1));
    ram.write(guestDataPage(spec.memoryBytes, i), page);
  }
}
