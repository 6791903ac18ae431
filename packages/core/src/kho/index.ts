/**
 * Kexec HandOver (KHO): preserve memory across kexec in the kho-v1 format (root FDT, memory map of
 * `khoser_mem_chunk` pages and bitmaps, subtrees), hand it to the next kernel, and restore it
 * there; read a handover offline from a memory image. Also the FDT codec the format is built on.
 * The concept guide "Machine, kernel and Kexec HandOver" explains the format.
 *
 * @module kho
 */
export {
  bitmapSpan,
  KHO_FDT_COMPATIBLE,
  KHO_FDT_SIZE,
  KHO_MEM_PHYS_BITS_SIZE,
  KHO_SCRATCH,
  KHO_SCRATCH_ALIGN,
  KHO_SCRATCH_DEFAULT_SCALE,
  KHO_VMALLOC,
  KHO_VMALLOC_ALLOC,
  KHO_VMALLOC_CHUNK,
  KHO_VMALLOC_HUGE_VMAP,
  KHOSER_BITMAP_SIZE,
  KHOSER_MEM_BITMAP_PTR,
  KHOSER_MEM_CHUNK_HDR,
  KHOSER_MEM_CHUNK_SIZE,
  PRESERVE_BITS,
  PROP_PRESERVED_MEMORY_MAP,
  PROP_SUBTREE_FDT,
} from "./abi.js";
export {
  KhoAlreadyRestoredError,
  KhoBadArgumentError,
  KhoBadOrderError,
  KhoBadSubtreeError,
  KhoCorruptHandoverError,
  KhoDisabledError,
  KhoError,
  KhoFdtFullError,
  KhoFinalizedError,
  KhoInScratchError,
  KhoMemoryFreeError,
  KhoMisalignedError,
  KhoNoHandoverError,
  KhoNotPreservedError,
  KhoNotRamError,
  KhoOverlapError,
  KhoPreserveError,
  KhoScratchError,
  KhoSubtreeExistsError,
  KhoSubtreeNotFoundError,
  KhoVmallocError,
} from "./errors.js";
export * from "./fdt/index.js";
export { type KhoHandoverImage, readKhoHandover } from "./handover-image.js";
export { KhoIncoming, type RetrievedSubtree } from "./incoming.js";
export { type BootKernelOptions, bootKernel, Kho, type KhoKernel, kexecBoot } from "./kho.js";
export type { IncomingMemoryMap } from "./memory-map-reader.js";
export { type KhoFinalizeReport, KhoOutgoing, splitIntoFolios } from "./outgoing.js";
export { parseScratchPolicy, type ScratchPolicy, scratchSizes } from "./scratch.js";
export {
  decodeVmallocDescriptor,
  encodeVmallocDescriptor,
  type KhoVmallocDescriptor,
  type VmallocArea,
} from "./vmalloc.js";
