import { LiveUpdateError } from "@liveupdate/core";

/**
 * Base of guestmemfs's errors. `errno` is what a file system call would return for the same
 * failure; `code` is stable and `context` names the file (`name`, `ino`) and the argument.
 */
export abstract class GuestmemfsError extends LiveUpdateError {
  /** errno name, e.g. `"ENOSPC"`. */
  abstract readonly errno: string;
}

/** The carved region has no free extent left for the request (`ENOSPC`). */
export class GuestmemfsNoSpaceError extends GuestmemfsError {
  /** Stable code. */
  readonly code = "GUESTMEMFS_NO_SPACE";
  /** errno. */
  readonly errno = "ENOSPC";
}

/** A file name is empty, too long, or contains `/` or NUL, or is `.`/`..` (`EINVAL`). */
export class GuestmemfsBadNameError extends GuestmemfsError {
  /** Stable code. */
  readonly code = "GUESTMEMFS_BAD_NAME";
  /** errno. */
  readonly errno = "EINVAL";
}

/** A file of that name exists already (`EEXIST`). */
export class GuestmemfsExistsError extends GuestmemfsError {
  /** Stable code. */
  readonly code = "GUESTMEMFS_EXISTS";
  /** errno. */
  readonly errno = "EEXIST";
}

/** No file of that name (`ENOENT`). */
export class GuestmemfsNotFoundError extends GuestmemfsError {
  /** Stable code. */
  readonly code = "GUESTMEMFS_NOT_FOUND";
  /** errno. */
  readonly errno = "ENOENT";
}

/** The file was unlinked: its extents are gone, nothing can be done with it any more (`ENOENT`). */
export class GuestmemfsUnlinkedError extends GuestmemfsError {
  /** Stable code. */
  readonly code = "GUESTMEMFS_UNLINKED";
  /** errno. */
  readonly errno = "ENOENT";
}

/** An argument is out of range: a negative or unaligned size or offset, an access past the end (`EINVAL`). */
export class GuestmemfsRangeError extends GuestmemfsError {
  /** Stable code. */
  readonly code = "GUESTMEMFS_RANGE";
  /** errno. */
  readonly errno = "EINVAL";
}

/** A seal forbids the operation, or seals may not be added to the file (`EPERM`). */
export class GuestmemfsSealedError extends GuestmemfsError {
  /** Stable code. */
  readonly code = "GUESTMEMFS_SEALED";
  /** errno. */
  readonly errno = "EPERM";
}

/** `F_SEAL_WRITE` was asked for while a writable mapping exists, or the file is mapped when it must not be (`EBUSY`). */
export class GuestmemfsBusyError extends GuestmemfsError {
  /** Stable code. */
  readonly code = "GUESTMEMFS_BUSY";
  /** errno. */
  readonly errno = "EBUSY";
}

/** This kernel has no guestmemfs carve-out (`guestmemfs=` missing): there is no file system (`ENODEV`). */
export class GuestmemfsNoRegionError extends GuestmemfsError {
  /** Stable code. */
  readonly code = "GUESTMEMFS_NO_REGION";
  /** errno. */
  readonly errno = "ENODEV";
}

/**
 * The region the previous kernel handed over is not inside this kernel's carve-out (the carve is
 * smaller, elsewhere, or missing): nothing of it is adopted. Thrown by the superblock's restore,
 * before any file is touched; the restore policy decides what happens to the files.
 */
export class GuestmemfsRegionMismatchError extends GuestmemfsError {
  /** Stable code. */
  readonly code = "GUESTMEMFS_REGION_MISMATCH";
  /** errno. */
  readonly errno = "EINVAL";
}

/**
 * An incoming inode is inconsistent (an extent outside the carved region or unaligned, shared
 * with another file or not preserved; a size beyond its extents; a bad or duplicate name; counts
 * that disagree). `context` names the inode (`ino`, `token`) and the `field`. Nothing of the file
 * has been restored when this is thrown.
 */
export class GuestmemfsCorruptInodeError extends GuestmemfsError {
  /** Stable code. */
  readonly code = "GUESTMEMFS_CORRUPT_INODE";
  /** errno. */
  readonly errno = "EINVAL";
}
