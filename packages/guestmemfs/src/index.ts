/**
 * `@liveupdate/guestmemfs` — the guestmemfs driver model (guest RAM carved out at boot, 2 MiB
 * extents, inodes persisted through KHO). The driver itself is built by its own issue; this package
 * currently pins only the handover compatible string it will implement.
 *
 * @packageDocumentation
 */

/** Compatible string of the guestmemfs handover format this package implements. */
export const GUESTMEMFS_COMPATIBLE = "guestmemfs-v1";
