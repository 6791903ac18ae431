/**
 * `@liveupdate/drivers-iommufd` — the iommufd driver model over the emulated VT-d IOMMU: contexts,
 * IOASes, paging HWPTs, device attachments by BDF and PASID, map/unmap/copy of guestmemfs file
 * ranges. A context preserved in a LUO session keeps its page tables in place across kexec
 * (`iommufd-v1`/`-v2`, with the IOMMU core's shared state as the `iommu-liveupdate-v1` FLB); the
 * next kernel walks and checks them, then adopts them with the same domain ids, while DMA goes on.
 *
 * @packageDocumentation
 */
export {
  HUGE_PAGE,
  IOMMU_FLB_COMPATIBLE,
  IOMMU_IOAS_MAP_ALL,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITABLE,
  IOMMUFD_COMPATIBLE,
  IOVA_LIMIT,
  LARGE_PAGE,
  NO_PASID,
  PASID_LIMIT,
  RID_PASID,
  SMALL_PAGE,
  TOP_LEVEL,
  VIOMMU_COMPATIBLE,
} from "./abi.js";
export { IommufdDriver, type MapFileRequest } from "./driver.js";
export {
  IommufdBusyError,
  IommufdError,
  IommufdExistsError,
  IommufdHandoverMismatchError,
  IommufdInvalidArgumentError,
  IommufdLeafOutsideMappingError,
  IommufdNotFoundError,
  IommufdNotPreservableError,
  IommufdRestoreError,
  IommufdTableFormatError,
  IommufdTableNotPreservedError,
  IommufdTableSharedError,
  IommuInvalidationError,
  IommuNotRestoredError,
  IommuStrayContextEntryError,
} from "./errors.js";
export { IommuCore } from "./iommu-core.js";
export { FilePins } from "./iommufd/file-pins.js";
export { flushNested } from "./iommufd/flush-nested.js";
export { IovaMap, type IovaRange } from "./iommufd/iova-map.js";
export {
  type Attachment,
  Hwpt,
  type HwptOptions,
  Ioas,
  IommufdContext,
  IommufdDevice,
  type IovaArea,
  NestedHwpt,
  type Vdevice,
  Viommu,
} from "./iommufd/objects.js";
export { pasidEntryOf } from "./iommufd/pasid-entry.js";
export { type ResolvedArea, type WalkResult, walkPreservedTree } from "./restore/walk.js";
export {
  ATTACH_WITH_PASID,
  IOMMU_LU_DEVICES_LISTED,
  IommuDeviceV2,
  IommufdAreaV1,
  IommufdAttachmentV1,
  IommufdDeviceV1,
  IommufdHwptV1,
  IommufdHwptV2,
  IommufdNestedV2,
  IommufdSchema,
  IommufdV1,
  type IommufdV1Value,
  IommufdV2,
  type IommufdV2Value,
  IommufdVdeviceV2,
  IommufdViommuV2,
  IommuLiveupdateSchema,
  IommuLiveupdateV1,
  type IommuLiveupdateV1Value,
  IommuLiveupdateV2,
  type IommuLiveupdateV2Value,
} from "./schema.js";
export {
  contextTableKey,
  type DeviceTables,
  GLOBAL_FLUSH,
  type PresentPasids,
  VtdContextTables,
} from "./vtd/context-tables.js";
export { flushIotlbRange } from "./vtd/flush.js";
export { type Invalidator, invalidateAll, QueuedInvalidation } from "./vtd/invalidation-queue.js";
export { kernelPageSource, type TablePageSource } from "./vtd/page-source.js";
export { type LeafPermissions, type SecondStageLeaf, SecondStageTable } from "./vtd/second-stage.js";
