/**
 * The emulated machine: sparse physical memory, the firmware memory map, memory images, the DMA
 * contract between devices and the IOMMU, and the machine clock. Hardware never imports kernel
 * code; it is what survives a kexec.
 *
 * @module hw
 */
export { MachineClock } from "./clock.js";
export {
  type DmaFaultReason,
  type DmaRemapper,
  type DmaRequest,
  type DmaTranslation,
  IDENTITY_DMA,
} from "./dma.js";
export {
  BadAccessError,
  MemoryImageError,
  MemoryMapError,
  NotMemoryError,
  SizeParseError,
  ViewStraddlesSectionError,
} from "./errors.js";
export { exportMemoryImage, openMemoryImage } from "./image.js";
export { Machine, type MachineOptions } from "./machine.js";
export { MAX_PHYS_ADDR, MemoryMap, type MemoryRegion, type MemoryRegionType } from "./memory-map.js";
export { PhysicalMemory, SECTION_SIZE } from "./physical-memory.js";
export { parseSize } from "./size.js";
export {
  alignDown,
  alignUp,
  formatBytes,
  GiB,
  isAligned,
  KiB,
  MiB,
  orderBytes,
  PAGE_SHIFT,
  PAGE_SIZE,
  type PhysAddr,
  type PhysRange,
  pfnOf,
  TiB,
} from "./units.js";
