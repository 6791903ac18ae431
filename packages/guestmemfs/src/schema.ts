/**
 * What crosses the kexec, as versioned binary structs. Each preserved file is one inode record
 * (`guestmemfs-v1`, `-v2`) with its extent runs in preserved memory; the file system's superblock
 * (the carved region and the inode counter) is an FLB (`guestmemfs-sb-v1`) shared by every file.
 * Only physical addresses cross; the data itself stays in the extents, preserved in place.
 */
import {
  arrayPointer,
  chars,
  type Infer,
  reserved,
  struct,
  u32,
  u64,
  versionedSchema,
} from "@liveupdate/core";
import { EXTENT_SIZE, GUESTMEMFS_ALL_FLAGS, GUESTMEMFS_ALL_SEALS, NAME_MAX } from "./abi.js";

// #region runs
/** One run of physically contiguous 2 MiB extents (`struct guestmemfs_extent_run`). */
export const GuestmemfsExtentRun = struct("guestmemfs_extent_run", {
  phys: u64(),
  nr_extents: u32({ min: 1 }),
  _reserved: reserved(4),
});
// #endregion runs

// #region v1
/**
 * Version 1: an inode of the flat inode table — number, name, size, and its extent runs in file
 * order (`nr_extents` is their total, checked against the runs on restore).
 */
export const GuestmemfsInodeV1 = struct("guestmemfs_inode_v1", {
  ino: u32({ min: 1 }),
  nr_runs: u32({ max: 1 << 20 }),
  size: u64(),
  nr_extents: u32(),
  _reserved: reserved(4),
  name: chars(NAME_MAX + 1),
  runs: arrayPointer(GuestmemfsExtentRun, { count: "nr_runs" }),
});
/** Decoded value of {@link GuestmemfsInodeV1}. */
export type GuestmemfsInodeV1Value = Infer<typeof GuestmemfsInodeV1>;
// #endregion v1

// #region v2
/** Version 2 adds the file's seals (`F_SEAL_*`, uAPI values) and flags, as memfd-v2 did. */
export const GuestmemfsInodeV2 = struct("guestmemfs_inode_v2", {
  ino: u32({ min: 1 }),
  nr_runs: u32({ max: 1 << 20 }),
  size: u64(),
  nr_extents: u32(),
  seals: u32({ mask: GUESTMEMFS_ALL_SEALS }),
  flags: u32({ mask: GUESTMEMFS_ALL_FLAGS }),
  _reserved: reserved(4),
  name: chars(NAME_MAX + 1),
  runs: arrayPointer(GuestmemfsExtentRun, { count: "nr_runs" }),
});
/** Decoded value of {@link GuestmemfsInodeV2}. */
export type GuestmemfsInodeV2Value = Infer<typeof GuestmemfsInodeV2>;
// #endregion v2

// #region migrators
/**
 * The inode schema. v1 → v2 is lossless (no seals, no flags); v2 → v1 refuses, naming the field,
 * an inode with seals or flags — v1 cannot express them. (A lossy downgrade, when the update
 * policy allows it for this driver, is the driver's choice at serialize time: it drops them.)
 */
export const GuestmemfsInodeSchema = versionedSchema("guestmemfs", GuestmemfsInodeV1).next(
  GuestmemfsInodeV2,
  {
    kind: "injective",
    up: (v1) => ({ ...v1, seals: 0, flags: 0 }),
    down: ({ seals, flags, ...v1 }, ctx) => {
      if (seals !== 0) return ctx.refuse("seals", "guestmemfs-v1 has no seals");
      if (flags !== 0) return ctx.refuse("flags", "guestmemfs-v1 has no file flags");
      return v1;
    },
  },
);
// #endregion migrators

// #region superblock
/**
 * The superblock (FLB): where the carved region was and the next inode number, so the next
 * kernel can check its own carve-out before adopting any file, and never reuses an inode number.
 */
export const GuestmemfsSuperblockV1 = struct("guestmemfs_sb_v1", {
  region_base: u64(),
  region_size: u64(),
  extent_size: u32({ min: EXTENT_SIZE, max: EXTENT_SIZE }),
  next_ino: u32({ min: 1 }),
});
/** Decoded value of {@link GuestmemfsSuperblockV1}. */
export type GuestmemfsSuperblockV1Value = Infer<typeof GuestmemfsSuperblockV1>;
/** The superblock's schema (`guestmemfs-sb-v1`). */
export const GuestmemfsSuperblockSchema = versionedSchema("guestmemfs-sb", GuestmemfsSuperblockV1);
// #endregion superblock
