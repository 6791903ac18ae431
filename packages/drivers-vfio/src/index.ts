/**
 * `@liveupdate/drivers-vfio` — the vfio-pci driver model: a VMM opens PCI functions by BDF, binds
 * them to iommufd, wires their MSI-X vectors to event handles and drives their BARs. A device
 * preserved in a LUO session stays bound and running across the kexec and is never reset
 * (`vfio-pci-v1`/`-v2`, with the PCI core's `pci-v1` FLB): the next kernel checks the live device
 * against its snapshot, adopts it as it is and wires its vectors again, delivering the interrupts
 * latched in between. Built only on the public APIs of `@liveupdate/core`, `@liveupdate/guestmemfs`
 * and `@liveupdate/drivers-iommufd`.
 *
 * @packageDocumentation
 */
export {
  BAR_FLAG_64,
  BAR_FLAG_PREFETCH,
  CONFIG_SNAPSHOT_BYTES,
  HOST_VECTORS,
  PCI_FLB_COMPATIBLE,
  PCI_FLB_SCHEMA_NAME,
  PCI_MMIO_WINDOW,
  VFIO_PCI_COMPATIBLE,
  VFIO_PCI_SCHEMA_NAME,
} from "./abi.js";
export { VfioDevice, VfioEventHandle, type VfioVector } from "./device.js";
export { VfioPciDriver } from "./driver.js";
export {
  VfioBusyError,
  VfioDeviceMismatchError,
  VfioError,
  VfioHandoverCorruptError,
  VfioInvalidArgumentError,
  VfioNoDeviceError,
  VfioNoSpaceError,
  VfioNotPreservableError,
} from "./errors.js";
export { PciCore } from "./pci/pci-core.js";
export {
  PciDevSerV1,
  PciSerSchema,
  PciSerV1,
  type PciSerV1Value,
  VfioPciBarV1,
  VfioPciSchema,
  VfioPciV1,
  type VfioPciV1Value,
  VfioPciV2,
  type VfioPciV2Value,
  VfioPciVectorV1,
  VfioPciVectorV2,
} from "./schema.js";
