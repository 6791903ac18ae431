import { NO_PASID, RID_PASID } from "../abi.js";
import { type Invalidator, invalidateAll } from "../vtd/invalidation-queue.js";
import type { NestedHwpt } from "./objects.js";

/**
 * Flushes what the unit cached for a nested HWPT: the PASID-based IOTLB of each (domain, PASID)
 * it is attached at (nested translations are tagged by both).
 */
export function flushNested(iommu: Invalidator, nested: NestedHwpt): void {
  invalidateAll(
    iommu,
    [...nested.attachments].map((a) => ({
      kind: "pasid-iotlb" as const,
      domainId: nested.domainId,
      pasid: a.pasid === NO_PASID ? RID_PASID : a.pasid,
    })),
  );
}
