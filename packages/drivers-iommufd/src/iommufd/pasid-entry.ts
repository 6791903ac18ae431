import type { VtdPasidEntry } from "@liveupdate/core";
import { type Hwpt, NestedHwpt } from "./objects.js";

/**
 * The PASID entry an attachment to `hwpt` writes: second-stage only for a paging HWPT; nested
 * (PGTT 011b) for a nested HWPT — the guest's first-stage pointer (guest-physical) over the
 * nesting parent's second-stage table, tagged with the nested HWPT's domain id.
 */
export function pasidEntryOf(hwpt: Hwpt | NestedHwpt): VtdPasidEntry {
  if (hwpt instanceof NestedHwpt) {
    return {
      present: true,
      type: "nested",
      domainId: hwpt.domainId,
      secondStageTable: hwpt.viommu.parent.table.top,
      firstStageTable: hwpt.firstStageTable,
    };
  }
  return { present: true, type: "second-stage", domainId: hwpt.domainId, secondStageTable: hwpt.table.top };
}
