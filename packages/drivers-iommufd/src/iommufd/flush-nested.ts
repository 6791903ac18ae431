import type { VtdIommu } from "@liveupdate/core";
import { NO_PASID, RID_PASID } from "../abi.js";
import type { NestedHwpt } from "./objects.js";

/**
 * Flushes what the unit cached for a nested HWPT: the PASID-based IOTLB of each (domain, PASID)
 * it is attached at (nested translations are tagged by both).
 */
export function flushNested(iommu: VtdIommu, nested: NestedHwpt): void {
  for (const a of nested.attachments) {
    const pasid = a.pasid === NO_PASID ? RID_PASID : a.pasid;
    iommu.invalidate({ kind: "pasid-iotlb", domainId: nested.domainId, pasid });
  }
}
