import {
  type CanPreserve,
  CarveOut,
  Kernel,
  LiveUpdateDriver,
  Luo,
  type OnPrepare,
  type OnRestore,
  type OnSerialize,
  PhaseGuard,
  type PrepareContext,
  type RestoreContext,
  type SerializeContext,
} from "@liveupdate/core";
import { EXTENT_ORDER, EXTENT_SIZE, GUESTMEMFS_CARVE_OUT } from "./abi.js";
import { GuestmemfsCorruptInodeError } from "./errors.js";
import { GuestmemFile, type GuestmemStat } from "./file.js";
import type { CreateFileOptions, GuestmemFs, MmapOptions } from "./filesystem.js";
import type { GuestmemMapping } from "./mapping.js";
import { checkIncomingInode } from "./restore-check.js";
import { GuestmemfsInodeSchema, type GuestmemfsInodeV2Value } from "./schema.js";
import { GuestmemfsSuperblock } from "./superblock.js";

/** Size of the carve-out when the command line has no `guestmemfs=`. */
export const GUESTMEMFS_DEFAULT_SIZE = "64M";

// #region declaration
/**
 * The guestmemfs driver: files over RAM carved out at boot (`guestmemfs=<size>[@<base>]`), in
 * 2 MiB extents, mapped by VMMs as guest RAM. A file preserved by token in a LUO session crosses
 * the kexec in place: its extents are preserved as order-9 folios and its inode as a
 * `guestmemfs-v2` (or `-v1`) record; the data is never copied.
 */
@CarveOut({ label: GUESTMEMFS_CARVE_OUT, defaultSize: GUESTMEMFS_DEFAULT_SIZE })
@LiveUpdateDriver({ schema: GuestmemfsInodeSchema, flbs: [GuestmemfsSuperblock] })
export class GuestmemfsDriver
  implements
    CanPreserve,
    OnPrepare<GuestmemFile>,
    OnSerialize<GuestmemFile, GuestmemfsInodeV2Value>,
    OnRestore<GuestmemFile, GuestmemfsInodeV2Value>
{
  /**
   * Receives its collaborators by constructor injection, from this boot's container.
   *
   * @param kernel - the running kernel.
   * @param sb - the file system (FLB).
   * @param luo - the orchestrator (its lossy-downgrade policy).
   */
  constructor(
    readonly kernel: Kernel,
    readonly sb: GuestmemfsSuperblock,
    readonly luo: Luo,
  ) {}
  // #endregion declaration

  /** The file system of this boot (`ENODEV` without a carve-out). */
  get fs(): GuestmemFs {
    return this.sb.fs;
  }

  // #region operations
  /** Creates a file. Refused (EBUSY) during an update: the set of files handed over is fixed at prepare. */
  @PhaseGuard({ brownout: "refuse", target: () => undefined, description: "create a file" })
  create(name: string, options: CreateFileOptions = {}): GuestmemFile {
    return this.fs.create(name, options);
  }

  /** Changes a file's size. Refused (EBUSY) for a preserved file during an update: its extents are handed over. */
  @PhaseGuard({ brownout: "refuse", description: "grow or shrink a file (allocates or frees extents)" })
  truncate(file: GuestmemFile, size: number): void {
    this.fs.truncate(file, size);
  }

  /** Removes a file. Refused (EBUSY) for a preserved file during an update. */
  @PhaseGuard({ brownout: "refuse", description: "remove a file and free its extents" })
  unlink(file: GuestmemFile): void {
    this.fs.unlink(file);
  }

  /** Adds seals. Allowed during brownout (dirty: the inode is re-serialized at freeze). */
  @PhaseGuard({ brownout: "dirty", description: "add F_SEAL_* seals" })
  addSeals(file: GuestmemFile, seals: number): void {
    this.fs.addSeals(file, seals);
  }

  /** The file called `name` (ENOENT). */
  open(name: string): GuestmemFile {
    return this.fs.open(name);
  }

  /** The file's stat. */
  stat(file: GuestmemFile): GuestmemStat {
    return this.fs.stat(file);
  }

  /** Every file, by name. */
  list(): GuestmemStat[] {
    return this.fs.list();
  }

  /** Maps a file range; reads and writes through it are never phase-guarded (VMs keep running). */
  mmap(file: GuestmemFile, options: MmapOptions = {}): GuestmemMapping {
    return this.fs.mmap(file, options);
  }
  // #endregion operations

  // #region hooks
  /** Only live guestmemfs files are ours. */
  canPreserve(object: unknown): boolean {
    return object instanceof GuestmemFile && !object.unlinked;
  }

  /** Brownout: preserve every extent as an order-9 folio, so the data survives the kexec in place. */
  onPrepare(file: GuestmemFile, ctx: PrepareContext): void {
    for (const run of file.runs) {
      for (let e = 0; e < run.count; e++) ctx.preserveFolio(run.phys + e * EXTENT_SIZE, EXTENT_ORDER);
    }
  }

  /**
   * The inode as a native (v2) value; the orchestrator migrates it to the negotiated version. When
   * v1 was negotiated and the update policy allows a lossy downgrade for this driver, seals and
   * flags are dropped here; otherwise the down-migrator refuses a file that has them.
   */
  onSerialize(file: GuestmemFile, ctx: SerializeContext): GuestmemfsInodeV2Value {
    const lossy = ctx.version < 2 && this.lossyAllowed();
    return {
      ino: file.ino,
      size: BigInt(file.size),
      nr_extents: file.extents,
      seals: lossy ? 0 : file.seals,
      flags: lossy ? 0 : file.flags,
      name: file.name,
      runs: file.runs.map((run) => ({ phys: BigInt(run.phys), nr_extents: run.count })),
    };
  }

  /**
   * New kernel: checks the inode against the handed-over region, the superblock and the folios
   * preserved for it, claims its extents, then takes the folios back. Nothing is read from or
   * written to the data extents.
   */
  onRestore(state: GuestmemfsInodeV2Value, ctx: RestoreContext): GuestmemFile {
    const where = { driver: ctx.driver, session: ctx.session, token: ctx.token };
    const inode = checkIncomingInode(state, {
      region: this.sb.incomingRegion ?? this.fs.region,
      nextIno: this.sb.incomingNextIno,
      fs: this.fs,
      folios: ctx.folios,
      where,
    });
    const adopted = this.fs.adopt(inode);
    if (typeof adopted === "number") {
      throw new GuestmemfsCorruptInodeError(
        `guestmemfs inode ${state.ino}: runs[${adopted}] shared with another file`,
        {
          ...where,
          ino: state.ino,
          field: `runs[${adopted}]`,
        },
      );
    }
    for (const run of adopted.runs) {
      for (let e = 0; e < run.count; e++) ctx.restoreFolio(run.phys + e * EXTENT_SIZE, EXTENT_ORDER);
    }
    return adopted;
  }
  // #endregion hooks

  /** Whether this boot's update policy allows this driver a lossy downgrade. */
  private lossyAllowed(): boolean {
    const policy = this.luo.options.allowLossy;
    return policy === true || (Array.isArray(policy) && policy.includes(GuestmemfsInodeSchema.name));
  }
}
