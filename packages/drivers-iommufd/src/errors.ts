import { LiveUpdateError } from "@liveupdate/core";

/** Base of every error of the iommufd driver model. */
export abstract class IommufdError extends LiveUpdateError {}

/** An argument is invalid (`EINVAL`): unaligned or out-of-range IOVA, length, PASID or flags. */
export class IommufdInvalidArgumentError extends IommufdError {
  /** Stable code. */
  readonly code = "IOMMUFD_INVALID_ARGUMENT";
  /** errno. */
  readonly errno = "EINVAL";
}

/** The IOVA range overlaps an existing area (`EEXIST`), or the device/PASID is already attached. */
export class IommufdExistsError extends IommufdError {
  /** Stable code. */
  readonly code = "IOMMUFD_EXISTS";
  /** errno. */
  readonly errno = "EEXIST";
}

/** Nothing is mapped or attached there, or the object is gone (`ENOENT`). */
export class IommufdNotFoundError extends IommufdError {
  /** Stable code. */
  readonly code = "IOMMUFD_NOT_FOUND";
  /** errno. */
  readonly errno = "ENOENT";
}

/** The object is in use (`EBUSY`): an IOAS with domains, a HWPT with devices, a device attached elsewhere. */
export class IommufdBusyError extends IommufdError {
  /** Stable code. */
  readonly code = "IOMMUFD_BUSY";
  /** errno. */
  readonly errno = "EBUSY";
}

/**
 * A context cannot be preserved as it is: an area that is not backed by a guestmemfs file of the
 * same session, or a device of another context. Thrown by prepare (the update is cancelled).
 */
export class IommufdNotPreservableError extends IommufdError {
  /** Stable code. */
  readonly code = "IOMMUFD_NOT_PRESERVABLE";
}

/**
 * The IOMMU is owned by a previous kernel (translation on, its root table handed over) and this
 * kernel has not restored the IOMMU core yet: retrieve the preserved iommufd objects first.
 */
export class IommuNotRestoredError extends IommufdError {
  /** Stable code. */
  readonly code = "IOMMU_NOT_RESTORED";
  /** errno. */
  readonly errno = "EBUSY";
}

/** Base of the errors of a handover that the new kernel refuses to adopt. */
export abstract class IommufdRestoreError extends IommufdError {}

/** A table page (or root/context/PASID structure) of the handover is not memory this driver preserved. */
export class IommufdTableNotPreservedError extends IommufdRestoreError {
  /** Stable code. */
  readonly code = "IOMMUFD_TABLE_NOT_PRESERVED";
}

/** A leaf of a preserved table maps memory the handover does not list as mapped at that IOVA. */
export class IommufdLeafOutsideMappingError extends IommufdRestoreError {
  /** Stable code. */
  readonly code = "IOMMUFD_LEAF_OUTSIDE_MAPPING";
}

/** A table entry is malformed: reserved bits, a large page where none may be, a bad level or pointer. */
export class IommufdTableFormatError extends IommufdRestoreError {
  /** Stable code. */
  readonly code = "IOMMUFD_TABLE_FORMAT";
}

/** A table page is reachable from two domains (or twice from one) without being recorded as shared. */
export class IommufdTableSharedError extends IommufdRestoreError {
  /** Stable code. */
  readonly code = "IOMMUFD_TABLE_SHARED";
}

/**
 * The handover disagrees with itself or with the hardware: an area outside its file, a file of
 * another session, a device whose context or PASID entry does not point where the record says.
 */
export class IommufdHandoverMismatchError extends IommufdRestoreError {
  /** Stable code. */
  readonly code = "IOMMUFD_HANDOVER_MISMATCH";
}

/**
 * The old kernel left a root or context entry present that no preserved context owns: a context
 * entry for a requester id the IOMMU core's handover does not list, or a root entry for a bus with
 * no listed device whose context table is malformed or was not preserved. Not an update failure —
 * the preserved contexts are adopted — but the entry is cleared and the caches flushed when the
 * root table is adopted, so DMA from such a device faults; the IOMMU core reports each one
 * (`IommuCore.strays` and a timeline warning) instead of throwing.
 */
export class IommuStrayContextEntryError extends IommufdRestoreError {
  /** Stable code. */
  readonly code = "IOMMU_STRAY_CONTEXT_ENTRY";
}

/**
 * The unit did not complete a queued invalidation: it stopped the queue (FSTS.IQE, e.g. a
 * malformed descriptor) or the wait descriptor's status write did not arrive.
 */
export class IommuInvalidationError extends IommufdError {
  /** Stable code. */
  readonly code = "IOMMU_INVALIDATION_FAILED";
  /** errno. */
  readonly errno = "EIO";
}
