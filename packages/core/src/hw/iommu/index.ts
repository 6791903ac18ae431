/**
 * The emulated Intel VT-d IOMMU (scalable mode, nested translation): the unit, its register and
 * table formats (encoders drivers use to build tables), invalidation descriptors and the fault log.
 *
 * @module
 */
export * from "./abi.js";
export {
  decodeContextEntry,
  decodeFirstStageEntry,
  decodePasidDirEntry,
  decodePasidEntry,
  decodeRootEntry,
  decodeSecondStageEntry,
  encodeContextEntry,
  encodeFirstStageEntry,
  encodePasidDirEntry,
  encodePasidEntry,
  encodeRootEntry,
  encodeSecondStageEntry,
  levelSpan,
  readQwords,
  tableIndex,
  translationTypeOf,
  type VtdContextEntry,
  type VtdFirstStageEntry,
  type VtdPasidDirEntry,
  type VtdPasidEntry,
  type VtdRootEntry,
  type VtdSecondStageEntry,
  type VtdTranslationType,
  writeQwords,
} from "./entries.js";
export { VtdEncodeError, VtdQueueError, VtdRegisterError } from "./errors.js";
export { VtdFaultLog, type VtdFaultRecord } from "./faults.js";
export {
  type DescriptorError,
  decodeInvalidation,
  encodeInvalidation,
  type VtdDescriptor,
  type VtdInvalidation,
} from "./invalidation.js";
export { submitInvalidations } from "./invalidation-queue.js";
export { VtdIommu, type VtdIommuOptions } from "./iommu.js";
export { VTD_CAP_VALUE, VTD_ECAP_VALUE } from "./registers.js";
export type { VtdCounters, VtdIommuState } from "./state.js";
