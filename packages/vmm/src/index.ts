/**
 * `@liveupdate/vmm` — a VMM model on the SDK's drivers: VMs whose RAM is a guestmemfs file, whose
 * DMA is translated by iommufd (a vIOMMU and nested translation when the guest programs its own
 * IOMMU) and whose passthrough devices are DMA engines opened through vfio-pci. The VMM preserves
 * each VM in a LUO session named after it; after the kexec a new VMM retrieves the sessions by name
 * and resumes the VMs. vCPUs pause only for the blackout, the devices never. A sparse-aware digest
 * of guest RAM and the guests' own model of what their devices wrote let a checker prove that a VM's
 * memory came through bit-identical apart from its devices' writes.
 *
 * @packageDocumentation
 */
export { VmmConfigError, VmmError, VmmResumeError, VmmStateError } from "./errors.js";
export {
  DEFAULT_WORKLOAD,
  DmaWorkload,
  type DmaWorkloadLayout,
  type PredictedWrite,
  WORKLOAD_REGION,
  type WorkloadMark,
} from "./guest/dma-workload.js";
export { GuestFirstStageTables } from "./guest/page-tables.js";
export {
  type HostUpdateCancelled,
  type HostUpdated,
  type HostUpdateOptions,
  updateHost,
} from "./host-update.js";
export { type MemoryCheckResult, VmMemoryCheck } from "./memory-check.js";
export { blockHash, DIGEST_BLOCK, RamDigest } from "./ram-digest.js";
export { GUEST_LAYOUT, MIN_VM_MEMORY, type VmSpec } from "./spec.js";
export { Vm, type VmDevice } from "./vm.js";
export { guestDataPage, VM_TOKENS, Vmm } from "./vmm.js";
