/**
 * The kho-v1 wire format, pinned in one place (like upstream's `include/linux/kho/abi/`).
 *
 * Layouts follow Linux 6.16 `kernel/kexec_handover.c` byte for byte: 512-byte preservation
 * bitmaps (`struct kho_mem_phys_bits`), 4 KiB `struct khoser_mem_chunk` pages of a 16-byte header
 * and 255 `struct khoser_mem_bitmap_ptr` entries, and the root FDT properties. The vmalloc layout
 * follows the later upstream `struct kho_vmalloc` ABI. All integers are little-endian (native on
 * x86-64). Sizes are asserted when this module loads.
 *
 * @module
 */
import { assertAbi } from "../common/errors.js";
import { PAGE_SIZE } from "../hw/units.js";

/** `compatible` of the root KHO FDT. */
export const KHO_FDT_COMPATIBLE = "kho-v1";
/** Root property: u64 physical address of the first `khoser_mem_chunk` (0 when nothing is preserved). */
export const PROP_PRESERVED_MEMORY_MAP = "preserved-memory-map";
/** Subtree node property: u64 physical address of the subtree's own FDT. */
export const PROP_SUBTREE_FDT = "fdt";
/** x86 passes one page as `fdt_size`; the root FDT must fit in it (`fdt_create(fdt, PAGE_SIZE)`). */
export const KHO_FDT_SIZE = PAGE_SIZE;

/** Bits per preservation bitmap (`PRESERVE_BITS` = 512 * 8). */
export const PRESERVE_BITS = 512 * 8;
/** Bytes of one `struct kho_mem_phys_bits`. */
export const KHO_MEM_PHYS_BITS_SIZE = PRESERVE_BITS / 8;

/** `struct khoser_mem_chunk_hdr { u64 next; u32 order; u32 num_elms; }`. */
export const KHOSER_MEM_CHUNK_HDR = { next: 0, order: 8, numElms: 12, size: 16 } as const;
/** `struct khoser_mem_bitmap_ptr { u64 phys_start; u64 bitmap; }`. */
export const KHOSER_MEM_BITMAP_PTR = { physStart: 0, bitmap: 8, size: 16 } as const;
/** Entries per chunk (`KHOSER_BITMAP_SIZE` = (PAGE_SIZE - sizeof(hdr)) / sizeof(ptr) = 255). */
export const KHOSER_BITMAP_SIZE = (PAGE_SIZE - KHOSER_MEM_CHUNK_HDR.size) / KHOSER_MEM_BITMAP_PTR.size;
/** Bytes of one `struct khoser_mem_chunk` (one page). */
export const KHOSER_MEM_CHUNK_SIZE =
  KHOSER_MEM_CHUNK_HDR.size + KHOSER_BITMAP_SIZE * KHOSER_MEM_BITMAP_PTR.size;

/** `struct kho_scratch { u64 addr; u64 size; }`. */
export const KHO_SCRATCH = { addr: 0, size: 8, sizeof: 16 } as const;
/** Alignment of scratch areas (`CMA_MIN_ALIGNMENT_BYTES`: one 2 MiB pageblock on x86-64). */
export const KHO_SCRATCH_ALIGN = 2 * 1024 * 1024;
/** Default scratch scale: 200 % of memory the kernel reserved at boot. */
export const KHO_SCRATCH_DEFAULT_SCALE = 200;

/** `struct kho_vmalloc { u64 first; u32 total_pages; u16 flags; u16 order; }`. */
export const KHO_VMALLOC = { first: 0, totalPages: 8, flags: 12, order: 14, sizeof: 16 } as const;
/** `struct kho_vmalloc_chunk { u64 next; u64 phys[511]; }`; a zero `phys` ends the list early. */
export const KHO_VMALLOC_CHUNK = { next: 0, phys: 8, entries: (PAGE_SIZE - 8) / 8 } as const;
/** `KHO_VMALLOC_ALLOC`: the area came from vmalloc (`VM_ALLOC`). */
export const KHO_VMALLOC_ALLOC = 0x1;
/** `KHO_VMALLOC_HUGE_VMAP`: the area is mapped with huge pages (`VM_ALLOW_HUGE_VMAP`). */
export const KHO_VMALLOC_HUGE_VMAP = 0x2;

/** Bytes covered by one bitmap of `order`: `PRESERVE_BITS << (order + PAGE_SHIFT)`. */
export function bitmapSpan(order: number): number {
  return PRESERVE_BITS * PAGE_SIZE * 2 ** order;
}

/**
 * Throws when a pinned size disagrees with the upstream static asserts. Runs at load.
 *
 * @throws {@link AbiDriftError} naming the size that drifted.
 */
export function assertKhoAbi(): void {
  const checks: Array<[string, number, number]> = [
    ["KHOSER_BITMAP_SIZE", KHOSER_BITMAP_SIZE, 255],
    ["sizeof(struct khoser_mem_chunk)", KHOSER_MEM_CHUNK_SIZE, PAGE_SIZE],
    ["sizeof(struct kho_mem_phys_bits)", KHO_MEM_PHYS_BITS_SIZE, 512],
    ["sizeof(struct kho_vmalloc_chunk)", 8 + KHO_VMALLOC_CHUNK.entries * 8, PAGE_SIZE],
    ["KHO_VMALLOC_SIZE", KHO_VMALLOC_CHUNK.entries, 511],
    ["sizeof(struct kho_scratch)", KHO_SCRATCH.sizeof, 16],
    ["sizeof(struct kho_vmalloc)", KHO_VMALLOC.sizeof, 16],
  ];
  assertAbi("kho", checks);
}

assertKhoAbi();
