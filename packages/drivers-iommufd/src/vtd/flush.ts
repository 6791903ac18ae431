import { VTD_MAX_ADDRESS_MASK, type VtdInvalidation } from "@liveupdate/core";
import { SMALL_PAGE } from "../abi.js";
import { type Invalidator, invalidateAll } from "./invalidation-queue.js";

/** Beyond this many page-selective descriptors, one domain-selective flush is cheaper. */
const MAX_PAGE_FLUSHES = 64;

/**
 * Flushes the IOTLB of `domainId` for `[iova, iova + length)` after leaves were cleared: as few
 * page-selective invalidations as cover the range with naturally aligned 2^AM-page blocks (AM ≤
 * the unit's maximum), or one domain-selective invalidation when that would take too many. Through a
 * queue, they are one submission with one wait.
 */
export function flushIotlbRange(iommu: Invalidator, domainId: number, iova: number, length: number): void {
  const blocks: VtdInvalidation[] = [];
  let page = iova / SMALL_PAGE;
  const end = (iova + length) / SMALL_PAGE;
  while (page < end) {
    let am = 0;
    while (am < VTD_MAX_ADDRESS_MASK && page % 2 ** (am + 1) === 0 && page + 2 ** (am + 1) <= end) am++;
    blocks.push({ kind: "iotlb-page", domainId, address: page * SMALL_PAGE, addressMask: am });
    if (blocks.length > MAX_PAGE_FLUSHES) {
      iommu.invalidate({ kind: "iotlb-domain", domainId });
      return;
    }
    page += 2 ** am;
  }
  invalidateAll(iommu, blocks);
}
