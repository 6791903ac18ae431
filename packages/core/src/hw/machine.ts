import { MachineClock } from "./clock.js";
import { MemoryMap } from "./memory-map.js";
import { PhysicalMemory } from "./physical-memory.js";
import { parseSize } from "./size.js";

/** How to build a {@link Machine}. */
export interface MachineOptions {
  /** RAM size in bytes or as a size string (`"64G"`); laid out by {@link MemoryMap.standardX86}. */
  readonly memory?: number | string;
  /** An explicit memory map instead of `memory`. */
  readonly memoryMap?: MemoryMap;
  /** Use a manual clock (deterministic timelines). */
  readonly manualClock?: boolean;
}

/**
 * The emulated physical machine: memory and a clock (and, as drivers arrive, the IOMMU and the PCI
 * bus). It is what survives kexec — kernels come and go on the same machine — and it knows
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

  /** @param options - memory size or map, clock mode. Defaults to 4 GiB of RAM. */
  constructor(options: MachineOptions = {}) {
    const size = options.memory === undefined ? 4 * 1024 ** 3 : options.memory;
    this.memoryMap =
      options.memoryMap ?? MemoryMap.standardX86(typeof size === "string" ? parseSize(size) : size);
    this.memory = new PhysicalMemory(this.memoryMap);
    this.clock = new MachineClock({ manual: options.manualClock ?? false });
  }
}
