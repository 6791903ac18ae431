import { MemoryMapError } from "./errors.js";
import { GiB, isAligned, MiB, PAGE_SIZE, type PhysAddr, type PhysRange } from "./units.js";

/**
 * What a physical range is used for, as the firmware memory map (e820) reports it. `ram` is usable
 * by the kernel; `reserved` is memory that exists (reads and writes work) but that the kernel must
 * never allocate, such as firmware tables.
 */
export type MemoryRegionType = "ram" | "reserved";

/** One entry of the firmware memory map. */
export interface MemoryRegion extends PhysRange {
  /** What the range is. */
  readonly type: MemoryRegionType;
}

/** Highest physical address the emulation accepts (64 TiB); keeps per-section tables small. */
export const MAX_PHYS_ADDR = 2 ** 46;

/**
 * The machine's firmware memory map: sorted, page-aligned, non-overlapping regions.
 *
 * @example
 * ```ts
 * const map = MemoryMap.standardX86(8 * GiB); // RAM below 3 GiB, MMIO hole, RAM above 4 GiB
 * map.totalRam(); // 8 GiB minus the 1 MiB of low firmware memory
 * ```
 */
export class MemoryMap {
  /** Regions sorted by base address. */
  readonly regions: readonly MemoryRegion[];

  /**
   * @param regions - the regions, in any order.
   * @throws {@link MemoryMapError} on overlap, misalignment, empty regions or addresses ≥ 64 TiB.
   */
  constructor(regions: readonly MemoryRegion[]) {
    const sorted = [...regions].sort((a, b) => a.base - b.base);
    if (sorted.length === 0) throw new MemoryMapError("no regions");
    let previousEnd = 0;
    for (const region of sorted) {
      const { base, size } = region;
      if (!Number.isSafeInteger(base) || !Number.isSafeInteger(size) || size <= 0 || base < 0) {
        throw new MemoryMapError("region with invalid base or size", { region });
      }
      if (!isAligned(base, PAGE_SIZE) || !isAligned(size, PAGE_SIZE)) {
        throw new MemoryMapError("region not page aligned", { region });
      }
      if (base < previousEnd) throw new MemoryMapError("overlapping regions", { region });
      if (base + size > MAX_PHYS_ADDR) throw new MemoryMapError("region beyond 64 TiB", { region });
      previousEnd = base + size;
    }
    this.regions = sorted.map((r) => Object.freeze({ ...r }));
    Object.freeze(this.regions);
  }

  /**
   * A PC-like layout for `ramBytes` of RAM: the first MiB reserved for firmware, RAM up to 3 GiB,
   * a 1 GiB hole below 4 GiB for MMIO (PCI BARs), and the remaining RAM from 4 GiB upwards.
   */
  static standardX86(ramBytes: number): MemoryMap {
    if (!Number.isSafeInteger(ramBytes) || ramBytes < 16 * MiB || !isAligned(ramBytes, 2 * MiB)) {
      throw new MemoryMapError("RAM size must be a multiple of 2 MiB and at least 16 MiB", { ramBytes });
    }
    const low = Math.min(ramBytes, 3 * GiB);
    const regions: MemoryRegion[] = [
      { base: 0, size: MiB, type: "reserved" },
      { base: MiB, size: low - MiB, type: "ram" },
    ];
    if (ramBytes > low) regions.push({ base: 4 * GiB, size: ramBytes - low, type: "ram" });
    return new MemoryMap(regions);
  }

  /** The region containing `phys`, or undefined. */
  regionAt(phys: PhysAddr): MemoryRegion | undefined {
    // Few regions: a linear scan is faster than anything clever.
    for (const region of this.regions) {
      if (phys >= region.base && phys < region.base + region.size) return region;
    }
    return undefined;
  }

  /** True when `[phys, phys + length)` lies inside one region (of any type). */
  contains(phys: PhysAddr, length: number): boolean {
    const region = this.regionAt(phys);
    return region !== undefined && phys + length <= region.base + region.size;
  }

  /** True when `[phys, phys + length)` lies inside one `ram` region. */
  isRam(phys: PhysAddr, length: number): boolean {
    const region = this.regionAt(phys);
    return region !== undefined && region.type === "ram" && phys + length <= region.base + region.size;
  }

  /** The `ram` regions. */
  ram(): MemoryRegion[] {
    return this.regions.filter((r) => r.type === "ram");
  }

  /** Total bytes of `ram`. */
  totalRam(): number {
    return this.ram().reduce((sum, r) => sum + r.size, 0);
  }

  /** One past the highest address of any region. */
  end(): PhysAddr {
    const last = this.regions[this.regions.length - 1]!;
    return last.base + last.size;
  }
}
