import type { Kernel, PhysAddr } from "@liveupdate/core";
import { SMALL_PAGE } from "../abi.js";

/** Where table pages come from: zeroed 4 KiB pages of the kernel's page allocator. */
export interface TablePageSource {
  /** A zeroed 4 KiB page. */
  alloc(): PhysAddr;
  /** Gives a page back. */
  free(phys: PhysAddr): void;
}

/** Table pages from `kernel`'s page allocator (mirrors `iommu_alloc_pages_node_sz(..., SZ_4K)`). */
export function kernelPageSource(kernel: Kernel): TablePageSource {
  return {
    alloc: () => {
      const page = kernel.allocPages(0);
      kernel.machine.memory.fill(page, SMALL_PAGE, 0);
      return page;
    },
    free: (phys) => kernel.freePages(phys, 0),
  };
}
