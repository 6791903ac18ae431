import { LiveUpdateError } from "@liveupdate/core";

/** Base of every error of the vfio-pci driver model. */
export abstract class VfioError extends LiveUpdateError {}

/** No PCI function at that address, or the object is gone (`ENODEV`/`ENOENT`). */
export class VfioNoDeviceError extends VfioError {
  /** Stable code. */
  readonly code = "VFIO_NO_DEVICE";
  /** errno. */
  readonly errno = "ENODEV";
}

/** The device is already open, bound, or in use (`EBUSY`). */
export class VfioBusyError extends VfioError {
  /** Stable code. */
  readonly code = "VFIO_BUSY";
  /** errno. */
  readonly errno = "EBUSY";
}

/** An argument is invalid (`EINVAL`): a vector index, a BAR, an offset, an event handle. */
export class VfioInvalidArgumentError extends VfioError {
  /** Stable code. */
  readonly code = "VFIO_INVALID_ARGUMENT";
  /** errno. */
  readonly errno = "EINVAL";
}

/** The MMIO window or the interrupt vectors are exhausted (`ENOSPC`). */
export class VfioNoSpaceError extends VfioError {
  /** Stable code. */
  readonly code = "VFIO_NO_SPACE";
  /** errno. */
  readonly errno = "ENOSPC";
}

/**
 * A device cannot be preserved as it is: not bound to an iommufd context, or its context is not
 * preserved in the same session (the new kernel could not keep its DMA translated). Thrown by
 * prepare: the update is cancelled before anything is frozen.
 */
export class VfioNotPreservableError extends VfioError {
  /** Stable code. */
  readonly code = "VFIO_NOT_PRESERVABLE";
}

/**
 * The live device does not match its preserved snapshot (identity, a BAR, bus mastering, the MSI-X
 * table, its IOMMU context): the new kernel will not adopt it. The driver's restore policy decides
 * what follows — `abort` fails the boot, `reset` drops the object after the device was reset.
 * `context.field` names what differed.
 */
export class VfioDeviceMismatchError extends VfioError {
  /** Stable code. */
  readonly code = "VFIO_DEVICE_MISMATCH";
}

/** The handover record is inconsistent in itself (a vector outside the table, a BAR twice). */
export class VfioHandoverCorruptError extends VfioError {
  /** Stable code. */
  readonly code = "VFIO_HANDOVER_CORRUPT";
}
