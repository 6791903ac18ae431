import { EXTENT_SIZE } from "./abi.js";
import { type ExtentRun, extentCount } from "./extent-allocator.js";

/** What `stat` reports about a file. */
export interface GuestmemStat {
  /** Inode number (unique in the file system, kept across live updates). */
  readonly ino: number;
  /** File name. */
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
  /** Bytes of extents allocated to the file (a multiple of 2 MiB, ≥ size). */
  readonly allocated: number;
  /** Number of 2 MiB extents. */
  readonly extents: number;
  /** `F_SEAL_*` bits. */
  readonly seals: number;
  /** `GUESTMEMFS_FLAG_*` bits. */
  readonly flags: number;
}

/**
 * One file of guestmemfs: an inode of the flat inode table with its extent runs in the carved
 * region. The object is the handle VMMs hold and the object preserved by token in a LUO session;
 * its data lives in physical memory, never in this object.
 */
export class GuestmemFile {
  /** True once unlinked: every operation on it then fails with `ENOENT`. */
  unlinked = false;
  /** Writable mappings alive (`F_SEAL_WRITE` is refused while there are any). */
  writableMappings = 0;
  /** End offset of the furthest live mapping (a shrink below it is refused with `EBUSY`). */
  readonly mappedEnds: number[] = [];

  /**
   * @param ino - inode number.
   * @param name - file name.
   * @param size - size in bytes.
   * @param runs - extent runs in file order.
   * @param seals - `F_SEAL_*` bits.
   * @param flags - `GUESTMEMFS_FLAG_*` bits.
   */
  constructor(
    readonly ino: number,
    readonly name: string,
    public size: number,
    public runs: ExtentRun[],
    public seals: number,
    readonly flags: number,
  ) {}

  /** Number of extents allocated to the file. */
  get extents(): number {
    return extentCount(this.runs);
  }

  /** Bytes allocated (extents × 2 MiB). */
  get allocated(): number {
    return this.extents * EXTENT_SIZE;
  }

  /** The file's `stat`. */
  stat(): GuestmemStat {
    return {
      ino: this.ino,
      name: this.name,
      size: this.size,
      allocated: this.allocated,
      extents: this.extents,
      seals: this.seals,
      flags: this.flags,
    };
  }

  /**
   * Host-physical address of file offset `offset` (which must be below `allocated`), and the
   * bytes that follow it contiguously.
   */
  locate(offset: number): { phys: number; contiguous: number } {
    let base = 0;
    for (const run of this.runs) {
      const bytes = run.count * EXTENT_SIZE;
      if (offset < base + bytes) return { phys: run.phys + offset - base, contiguous: base + bytes - offset };
      base += bytes;
    }
    return { phys: -1, contiguous: 0 };
  }
}
