/**
 * The binary layout of a Flattened Device Tree blob (devicetree specification v0.4, chapter 5;
 * DTB format version 17), as libfdt's `fdt.h` defines it.
 *
 * A blob is: a {@link FDT_HEADER_SIZE}-byte header of big-endian u32 fields, then the memory
 * reservation block (8-byte aligned `{u64 address; u64 size}` entries ended by an entry whose size
 * is 0), the structure block (4-byte aligned big-endian u32 tokens) and the strings block
 * (NUL-terminated property names referenced by offset).
 *
 * @module
 */
import { assertAbi } from "../../common/errors.js";

/** The magic number every blob starts with (big-endian u32 at offset 0). */
export const FDT_MAGIC = 0xd00dfeed;

/** Structure-block token: start of a node, followed by its NUL-terminated name padded to 4 bytes. */
export const FDT_BEGIN_NODE = 0x1;
/** Structure-block token: end of the innermost open node. */
export const FDT_END_NODE = 0x2;
/** Structure-block token: a property, followed by `u32 len; u32 nameoff;` and `len` value bytes padded to 4. */
export const FDT_PROP = 0x3;
/** Structure-block token: ignored filler. */
export const FDT_NOP = 0x4;
/** Structure-block token: end of the structure block. */
export const FDT_END = 0x9;

/** The format version this codec writes (the `version` header field). */
export const FDT_VERSION = 17;
/** The oldest version a version-17 blob is compatible with (the `last_comp_version` field written). */
export const FDT_LAST_COMP_VERSION = 16;
/** Oldest `version` the decoder accepts (version 16 lacks `size_dt_struct`). */
export const FDT_FIRST_SUPPORTED_VERSION = 16;
/** Newest `last_comp_version` the decoder accepts. */
export const FDT_LAST_SUPPORTED_VERSION = 17;

/** Size of a structure-block token and alignment of everything in the structure block. */
export const FDT_TAGSIZE = 4;
/** Size in bytes of a version-17 header (ten u32 fields). */
export const FDT_HEADER_SIZE = 40;
/** Size in bytes of a version-16 header (no `size_dt_struct`). */
export const FDT_V16_HEADER_SIZE = 36;
/** Size in bytes of one memory reservation entry (`u64 address; u64 size`). */
export const FDT_RESERVE_ENTRY_SIZE = 16;
/** Required alignment of the memory reservation block. */
export const FDT_RSVMAP_ALIGN = 8;
/** Size in bytes of the fixed part of a property (`u32 token; u32 len; u32 nameoff`). */
export const FDT_PROP_HEADER_SIZE = 12;
/**
 * Where libfdt's `fdt_create` places the memory reservation block: the header size rounded up to a
 * whole reservation entry (`FDT_ALIGN(sizeof(struct fdt_header), sizeof(struct fdt_reserve_entry))`),
 * i.e. 48. (dtc places it at 40; both are valid.)
 */
export const FDT_SW_RSVMAP_OFFSET = 48;

/** Byte offsets of the header fields, each a big-endian u32. */
export const FDT_HEADER_FIELDS = {
  magic: 0,
  totalsize: 4,
  offDtStruct: 8,
  offDtStrings: 12,
  offMemRsvmap: 16,
  version: 20,
  lastCompVersion: 24,
  bootCpuidPhys: 28,
  sizeDtStrings: 32,
  sizeDtStruct: 36,
} as const;

/** The decoded header of a blob (all fields are u32). `sizeDtStruct` is computed for version 16. */
export interface FdtHeader {
  /** Always {@link FDT_MAGIC}. */
  readonly magic: number;
  /** Size of the whole blob in bytes, padding included. */
  readonly totalsize: number;
  /** Offset of the structure block. */
  readonly offDtStruct: number;
  /** Offset of the strings block. */
  readonly offDtStrings: number;
  /** Offset of the memory reservation block. */
  readonly offMemRsvmap: number;
  /** Format version of the blob. */
  readonly version: number;
  /** Oldest version the blob is backward compatible with. */
  readonly lastCompVersion: number;
  /** Physical id of the boot CPU. */
  readonly bootCpuidPhys: number;
  /** Size of the strings block. */
  readonly sizeDtStrings: number;
  /** Size of the structure block (a header field from version 17; scanned for version 16). */
  readonly sizeDtStruct: number;
}

/** Rounds `value` up to a multiple of `alignment` (a power of two). Works above 2^32. */
export function fdtAlign(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** Header size of a blob of the given format version (as libfdt's `fdt_header_size_`). */
export function fdtHeaderSize(version: number): number {
  if (version <= 1) return 28;
  if (version <= 2) return 32;
  if (version < 17) return FDT_V16_HEADER_SIZE;
  return FDT_HEADER_SIZE;
}

// Layout self-checks: evaluated once at module load, they fail loudly if a constant is edited
// inconsistently (the header is ten u32 fields, the last one ends the header, and libfdt's
// reservation-map placement is the header rounded up to a reservation entry).
assertAbi("fdt", [
  ["header size (ten u32 fields)", Object.keys(FDT_HEADER_FIELDS).length * 4, FDT_HEADER_SIZE],
  ...Object.entries(FDT_HEADER_FIELDS).map(
    ([name, offset], index) => [`offset of ${name}`, offset, index * 4] as const,
  ),
  ["end of sizeDtStruct", FDT_HEADER_FIELDS.sizeDtStruct + 4, FDT_HEADER_SIZE],
  ["sizeDtStruct (v16 header size)", FDT_HEADER_FIELDS.sizeDtStruct, FDT_V16_HEADER_SIZE],
  ["FDT_SW_RSVMAP_OFFSET", FDT_SW_RSVMAP_OFFSET, fdtAlign(FDT_HEADER_SIZE, FDT_RESERVE_ENTRY_SIZE)],
  ["FDT_SW_RSVMAP_OFFSET % FDT_RSVMAP_ALIGN", FDT_SW_RSVMAP_OFFSET % FDT_RSVMAP_ALIGN, 0],
  ["FDT_RESERVE_ENTRY_SIZE", FDT_RESERVE_ENTRY_SIZE, 2 * 8],
  ["FDT_PROP_HEADER_SIZE", FDT_PROP_HEADER_SIZE, 3 * FDT_TAGSIZE],
]);
