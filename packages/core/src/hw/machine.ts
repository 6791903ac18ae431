import { MachineClock } from "./clock.js";
import { VtdIommu, type VtdIommuOptions } from "./iommu/iommu.js";
import { InterruptController } from "./irq/controller.js";
import { MemoryMap } from "./memory-map.js";
import { PciBus } from "./pci/bus.js";
import { PhysicalMemory } from "./physical-memory.js";
import type { UpdatePhase } from "./scheduler/phase.js";
import type { PreemptionPoint } from "./scheduler/preemption.js";
import { DeviceScheduler, type SchedulerOptions } from "./scheduler/scheduler.js";
import { parseSize } from "./size.js";

/** How to build a {@link Machine}. */
export interface MachineOptions {
  /** RAM size in bytes or as a size string (`"64G"`); laid out by {@link MemoryMap.standardX86}. */
  readonly memory?: number | string;
  /** An explicit memory map instead of `memory`. */
  readonly memoryMap?: MemoryMap;
  /** Use a manual clock (deterministic timelines). */
  readonly manualClock?: boolean;
  /** How devices are scheduled: seed, quantum, stress mode (see {@link DeviceScheduler}). */
  readonly scheduler?: SchedulerOptions;
  /** Options of the VT-d IOMMU (cache and fault log sizes). */
  readonly iommu?: VtdIommuOptions;
}

/**
 * The emulated physical machine: memory, a clock, the device scheduler, the interrupt controller
 * and the PCI bus (and the IOMMU). It is what survives kexec — kernels come and go on the same machine — and it knows
 * nothing about kernels.
 *
 * @example
 * ```ts
 * const machine = new Machine({ memory: "64G" });
 * machine.memory.writeU32(0x100000, 0xdeadbeef);
 * ```
 */
export class Machine {
  /** Physical memory. */
  readonly memory: PhysicalMemory;
  /** The firmware memory map. */
  readonly memoryMap: MemoryMap;
  /** Monotonic clock, shared by every kernel booted on this machine. */
  readonly clock: MachineClock;
  /** The VT-d IOMMU in front of every PCI function (translation disabled at power-on). */
  readonly iommu: VtdIommu;
  /** Runs the devices on the machine's clock (see {@link Machine.preempt}). */
  readonly scheduler: DeviceScheduler;
  /** The interrupt controller MSI-X messages go to; kernels wire its vectors. */
  readonly interrupts: InterruptController;
  /** PCI segment 0. */
  readonly pci: PciBus;

  /** @param options - memory size or map, clock mode. Defaults to 4 GiB of RAM. */
  constructor(options: MachineOptions = {}) {
    const size = options.memory === undefined ? 4 * 1024 ** 3 : options.memory;
    this.memoryMap =
      options.memoryMap ?? MemoryMap.standardX86(typeof size === "string" ? parseSize(size) : size);
    this.memory = new PhysicalMemory(this.memoryMap);
    this.clock = new MachineClock({ manual: options.manualClock ?? false });
    this.iommu = new VtdIommu(this.memory, options.iommu);
    this.scheduler = new DeviceScheduler(this.clock, options.scheduler);
    this.interrupts = new InterruptController(this.clock);
    this.pci = new PciBus({ memory: this.memory, interrupts: this.interrupts, scheduler: this.scheduler });
    this.pci.setRemapper(this.iommu);
  }

  /**
   * A preemption point: software hands the machine its cycles, machine time passes and the devices
   * run (see {@link DeviceScheduler.preempt}). Kernel and LUO code call it at:
   * `luo:between-hooks` (after every hook of every object or FLB), `kernel:reboot-stopped`,
   * `kernel:reboot-poisoned`, `kernel:early-boot`, `kernel:mm-init`, `luo:before-adopt`,
   * `luo:after-adopt`; the VMM model calls {@link Machine.idle} and {@link Machine.run}.
   */
  preempt(point: PreemptionPoint): void {
    this.scheduler.preempt(point);
  }

  /** The VMM model idles: one preemption point (`vmm:idle`). */
  idle(): void {
    this.scheduler.preempt("vmm:idle");
  }

  /** The VMM model lets the machine run for `ns` of machine time (`vmm:run`), devices included. */
  run(ns: number): void {
    this.scheduler.run(ns);
  }

  /** The update phase device progress is counted in. */
  get updatePhase(): UpdatePhase {
    return this.scheduler.phase;
  }

  /** Tells the hardware which update phase it is in (the orchestrator does, at each transition). */
  setUpdatePhase(phase: UpdatePhase): void {
    this.scheduler.setPhase(phase);
  }
}
