/**
 * The emulated kernel: boot on a machine, memblock and buddy allocators, per-boot virtual layout,
 * kexec load and reboot.
 *
 * @module
 */
export {
  type BootData,
  encodeBootData,
  KHO_DATA_SIZE,
  readSetupData,
  SETUP_DATA_HEADER,
  SETUP_KEXEC_KHO,
  writeSetupData,
} from "./boot-data.js";
export { BuddyAllocator, MAX_PAGE_ORDER } from "./buddy.js";
export {
  DEFAULT_KERNEL_IMAGE_SIZE,
  defineKernelBuild,
  type KernelBuild,
  type KernelBuildDriver,
} from "./build.js";
export {
  CARVE_OUT_ALIGN,
  type CarvedRegion,
  type CarveOutRequest,
  type CarveOutSpec,
  carveOutsOf,
  declareCarveOut,
  parseCarveOut,
  reserveCarveOuts,
} from "./carve-out.js";
export { KernelCmdline } from "./cmdline.js";
export {
  BadAllocationError,
  BadFreeError,
  BootDataError,
  BootStageError,
  CarveOutError,
  CmdlineError,
  KernelGoneError,
  KexecNotLoadedError,
  OutOfMemoryError,
} from "./errors.js";
export {
  type EarlyBootContext,
  type EarlyBootHooks,
  Kernel,
  type KernelBootOptions,
  type KernelStage,
  type KexecHandoff,
  KHO_PRESERVED_LABEL,
  POISON_BYTE,
  type RebootContribution,
  type RebootParticipant,
} from "./kernel.js";
export { VirtualLayout } from "./layout.js";
export { Memblock, type MemblockReservation } from "./memblock.js";
export { insideAny, mergeRanges, overlapsAny, subtractRanges } from "./ranges.js";
