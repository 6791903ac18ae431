/**
 * Constants of guestmemfs's on-memory format and of its file API. Seal values are the uAPI ones
 * (`include/uapi/linux/fcntl.h`), as upstream memfd's LUO handler hands them over unchanged.
 */
import { MiB } from "@liveupdate/core";

/** Size of one data extent: a PMD (2 MiB), the unit of allocation. */
export const EXTENT_SIZE = 2 * MiB;
/** Folio order of one extent (2^9 pages of 4 KiB), the order extents are preserved with through KHO. */
export const EXTENT_ORDER = 9;
/** Label of the boot-time carve-out and its command-line parameter (`guestmemfs=<size>[@<base>]`). */
export const GUESTMEMFS_CARVE_OUT = "guestmemfs";
/** Longest file name in bytes of UTF-8 (`NAME_MAX`); the handover stores it NUL-terminated. */
export const NAME_MAX = 255;

/** Prevents further seals from being added (`F_SEAL_SEAL`). */
export const F_SEAL_SEAL = 0x0001;
/** Prevents the file from shrinking (`F_SEAL_SHRINK`). */
export const F_SEAL_SHRINK = 0x0002;
/** Prevents the file from growing (`F_SEAL_GROW`). */
export const F_SEAL_GROW = 0x0004;
/** Prevents writes; refused while a writable mapping exists (`F_SEAL_WRITE`). */
export const F_SEAL_WRITE = 0x0008;
/** Prevents new writable mappings; existing ones keep writing (`F_SEAL_FUTURE_WRITE`). */
export const F_SEAL_FUTURE_WRITE = 0x0010;
/** Every seal guestmemfs-v2 can hand over (upstream `MEMFD_LUO_ALL_SEALS` without `F_SEAL_EXEC`). */
export const GUESTMEMFS_ALL_SEALS =
  F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;

/**
 * File flag: seals may never be added (`addSeals` fails with `EPERM`), as a memfd created without
 * `MFD_ALLOW_SEALING`. Files allow sealing by default, so a file without flags crosses to v1.
 */
export const GUESTMEMFS_FLAG_NO_SEALING = 0x0001;
/** Every file flag guestmemfs-v2 knows; unused bits must be 0 (as upstream memfd's `flags`). */
export const GUESTMEMFS_ALL_FLAGS = GUESTMEMFS_FLAG_NO_SEALING;
