/**
 * `@liveupdate/guestmemfs` — guest memory that survives kexec in place. A file system over RAM
 * carved out of the kernel at boot (`guestmemfs=<size>[@<base>]`), allocated in 2 MiB extents with
 * a flat inode table; VMMs map files as guest RAM. Files preserved by token in a LUO session keep
 * their physical extents and bytes across a live update: only the inodes cross, as
 * `guestmemfs-v1`/`-v2` records, and no data byte is copied. Built only on `@liveupdate/core`'s
 * public API.
 *
 * @packageDocumentation
 */
export {
  EXTENT_ORDER,
  EXTENT_SIZE,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  GUESTMEMFS_ALL_FLAGS,
  GUESTMEMFS_ALL_SEALS,
  GUESTMEMFS_CARVE_OUT,
  GUESTMEMFS_FLAG_NO_SEALING,
  NAME_MAX,
} from "./abi.js";
export { DataExtentAudit } from "./audit.js";
export { GUESTMEMFS_DEFAULT_SIZE, GuestmemfsDriver } from "./driver.js";
export {
  GuestmemfsBadNameError,
  GuestmemfsBusyError,
  GuestmemfsCorruptInodeError,
  GuestmemfsError,
  GuestmemfsExistsError,
  GuestmemfsNoRegionError,
  GuestmemfsNoSpaceError,
  GuestmemfsNotFoundError,
  GuestmemfsRangeError,
  GuestmemfsRegionMismatchError,
  GuestmemfsSealedError,
  GuestmemfsUnlinkedError,
} from "./errors.js";
export { ExtentAllocator, type ExtentRun, extentCount } from "./extent-allocator.js";
export { GuestmemFile, type GuestmemStat } from "./file.js";
export { type AdoptedInode, type CreateFileOptions, GuestmemFs, type MmapOptions } from "./filesystem.js";
export { GuestmemMapping, type MappedExtent } from "./mapping.js";
export { badNameReason } from "./names.js";
export { checkIncomingInode, type InodeCheckScope } from "./restore-check.js";
export {
  GuestmemfsExtentRun,
  GuestmemfsInodeSchema,
  GuestmemfsInodeV1,
  type GuestmemfsInodeV1Value,
  GuestmemfsInodeV2,
  type GuestmemfsInodeV2Value,
  GuestmemfsSuperblockSchema,
  GuestmemfsSuperblockV1,
  type GuestmemfsSuperblockV1Value,
} from "./schema.js";
export { GuestmemfsSuperblock } from "./superblock.js";

/** Compatible string of the newest guestmemfs handover format this package implements. */
export const GUESTMEMFS_COMPATIBLE = "guestmemfs-v2";
