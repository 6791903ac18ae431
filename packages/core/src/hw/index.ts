/**
 * Emulated hardware: sparse physical memory, the firmware memory map and the machine clock.
 * Hardware never imports kernel code.
 *
 * @module
 */
export { MachineClock } from "./clock.js";
export * as dmaEngineAbi from "./devices/dma-engine/abi.js";
export { DmaEngine, type DmaEngineOptions, type DmaEngineProgress } from "./devices/dma-engine/engine.js";
export {
  type DmaFaultReason,
  type DmaRemapper,
  type DmaRequest,
  type DmaTranslation,
  IDENTITY_DMA,
} from "./dma.js";
export {
  BadAccessError,
  MemoryMapError,
  NotMemoryError,
  SizeParseError,
  ViewStraddlesSectionError,
} from "./errors.js";
export {
  EXPORTED_CONFIG_BYTES,
  exportHardwareState,
  exportHardwareStateFile,
  type HardwareState,
  type PciFunctionState,
} from "./export.js";
export { exportMemoryImage } from "./image.js";
export * from "./iommu/index.js";
export {
  InterruptController,
  type InterruptDelivery,
  type InterruptHandler,
} from "./irq/controller.js";
export { InterruptCounters, type InterruptCountsSnapshot, type InterruptSource } from "./irq/counters.js";
export { VectorError } from "./irq/errors.js";
export {
  decodeMsi,
  FIRST_DEVICE_VECTOR,
  LAST_VECTOR,
  MSI_ADDRESS_BASE,
  type MsiMessage,
  msiMessage,
} from "./irq/message.js";
export { Machine, type MachineOptions } from "./machine.js";
export { MAX_PHYS_ADDR, MemoryMap, type MemoryRegion, type MemoryRegionType } from "./memory-map.js";
export { checkedAddress, formatBdf, type PciAddress, parseBdf, requesterIdOf } from "./pci/bdf.js";
export { PciBus, type PciBusInit } from "./pci/bus.js";
export * as pciRegs from "./pci/config-regs.js";
export { ConfigSpace } from "./pci/config-space.js";
export { PciAccessError, PciAddressError, PciFunctionSpecError } from "./pci/errors.js";
export {
  type DmaFailure,
  type PciAttachment,
  PciFunction,
  type PciFunctionCounters,
} from "./pci/function.js";
export type { BarSpec, PciFunctionSpec } from "./pci/header.js";
export { type MsixEntryState, type MsixHost, type MsixLayout, MsixState } from "./pci/msix.js";
export { PhysicalMemory, SECTION_SIZE } from "./physical-memory.js";
export { DeviceAlreadyRegisteredError, SchedulerOptionsError } from "./scheduler/errors.js";
export { type PhaseCounts, UPDATE_PHASES, type UpdatePhase, zeroPhaseCounts } from "./scheduler/phase.js";
export { PREEMPTION_POINTS, type PreemptionPoint } from "./scheduler/preemption.js";
export {
  type DeviceRunContext,
  DeviceScheduler,
  type DeviceScheduleStats,
  type ScheduledDevice,
  type SchedulerOptions,
} from "./scheduler/scheduler.js";
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
