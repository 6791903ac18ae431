import { MiB } from "@liveupdate/core";
import type { DmaWorkloadLayout } from "./guest/dma-workload.js";

/** What a VM is made of. */
export interface VmSpec {
  /** Name; also its LUO session's name and its RAM file's name (`<name>.ram`). */
  readonly name: string;
  /** Guest RAM in bytes (a multiple of 2 MiB, at least {@link MIN_VM_MEMORY}). */
  readonly memoryBytes: number;
  /** BDFs of the passthrough DMA engines (attached to the machine's bus beforehand). */
  readonly devices: readonly string[];
  /** Whether the guest programs its own IOMMU: a vIOMMU, nested translation through its tables. */
  readonly viommu?: boolean;
  /** Seed of the guest's data (default 1). */
  readonly seed?: number;
  /** Geometry of each device's workload (default {@link DEFAULT_WORKLOAD}). */
  readonly workload?: Partial<Pick<DmaWorkloadLayout, "ringSize" | "chunk" | "sources" | "destinations">>;
}

/** Smallest guest RAM: the workloads' regions in the lower half, the guest's data in the upper. */
export const MIN_VM_MEMORY = 64 * MiB;

/** Guest-physical layout shared by every VM. */
export const GUEST_LAYOUT = Object.freeze({
  /** The guest's IOMMU page-table pool (vIOMMU guests). */
  pageTablePool: { base: 0x10_0000, size: 0x20_0000 },
  /** First workload region; device d's is at `workloads + d · 4 MiB`. */
  workloads: 0x40_0000,
  /** Where a vIOMMU guest maps its workloads in its own IOVA space: `iova = viommuIovaBase + gpa`. */
  viommuIovaBase: 0x1_0000_0000,
  /** PASID a vIOMMU guest's devices tag their requests with. */
  viommuPasid: 1,
  /** Pages of guest data written across the upper half of RAM. */
  dataPages: 16,
});
