import {
  type CancelContext,
  type CanPreserve,
  CarveOut,
  type FinishContext,
  Kernel,
  Kho,
  LiveUpdateDriver,
  Luo,
  type OnCancel,
  type OnFinish,
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
import type { ExtentRun } from "./extent-allocator.js";
import { GuestmemFile, type GuestmemStat } from "./file.js";
import type { CreateFileOptions, GuestmemFs, MmapOptions } from "./filesystem.js";
import type { GuestmemMapping } from "./mapping.js";
import { checkIncomingInode } from "./restore-check.js";
import { GuestmemfsInodeSchema, type GuestmemfsInodeV2Value } from "./schema.js";
import { GuestmemfsSuperblock } from "./superblock.js";

/** Size of the carve-out when the command line has no `guestmemfs=`. */
export const GUESTMEMFS_DEFAULT_SIZE = "64M";

/** Calls `fn` with the physical address of every extent of `runs`. */
function forEachExtent(runs: readonly ExtentRun[], fn: (phys: number) => void): void {
  for (const run of runs) for (let e = 0; e < run.count; e++) fn(run.phys + e * EXTENT_SIZE);
}

// #region declaration
/**
 * The guestmemfs driver: files over RAM carved out at boot (`guestmemfs=<size>[@<base>]`), in
 * 2 MiB extents, mapped by VMMs as guest RAM. A file preserved by token in a LUO session crosses
 * the kexec in place: its extents are preserved as order-9 folios and its inode as a
 * `guestmemfs-v2` (or `-v1`) record; the data is never copied.
 *
 * Extents are preserved with KHO directly rather than listed with the object in the LUO
 * handover: they belong to the carve-out, which the next kernel carves again, and their number
 * grows with the data — listing them would make the blackout grow with the data (the inode's
 * extent runs already say where they are). The new kernel checks every run against KHO's
 * preserved memory before it adopts a file, and takes the folios back (`kho_restore_folio`) when
 * the session finishes, after the blackout.
 */
@CarveOut({ label: GUESTMEMFS_CARVE_OUT, defaultSize: GUESTMEMFS_DEFAULT_SIZE })
@LiveUpdateDriver({ schema: GuestmemfsInodeSchema, flbs: [GuestmemfsSuperblock] })
export class GuestmemfsDriver
  implements
    CanPreserve,
    OnPrepare<GuestmemFile>,
    OnCancel<GuestmemFile>,
    OnFinish<GuestmemFile>,
    OnSerialize<GuestmemFile, GuestmemfsInodeV2Value>,
    OnRestore<GuestmemFile, GuestmemfsInodeV2Value>
{
  /**
   * Receives its collaborators by constructor injection, from this boot's container.
   *
   * @param kernel - the running kernel.
   * @param sb - the file system (FLB).
   * @param luo - the orchestrator (its lossy-downgrade policy).
   * @param kho - this boot's KHO (extents are preserved and restored through it).
   */
  constructor(
    readonly kernel: Kernel,
    readonly sb: GuestmemfsSuperblock,
    readonly luo: Luo,
    readonly kho: Kho,
  ) {}

  /** Runs each file preserved through KHO for the update in progress (undone on cancel). */
  private readonly preservedRuns = new WeakMap<GuestmemFile, readonly ExtentRun[]>();
  /** Runs each restored file still has to take back from KHO (at finish). */
  private readonly pendingRuns = new WeakMap<GuestmemFile, readonly ExtentRun[]>();
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

  /**
   * Brownout: preserve every extent as an order-9 folio (mirrors `kho_preserve_folio`), so the data
   * survives the kexec in place. All or nothing: a failure unpreserves what was done.
   */
  onPrepare(file: GuestmemFile, _ctx: PrepareContext): void {
    const runs = [...file.runs];
    const done: ExtentRun[] = [];
    try {
      for (const run of runs) {
        forEachExtent([run], (phys) => this.kho.preserveFolio(phys, EXTENT_ORDER));
        done.push(run);
      }
    } catch (error) {
      forEachExtent(done, (phys) => this.kho.unpreserveFolio(phys, EXTENT_ORDER));
      throw error;
    }
    this.preservedRuns.set(file, runs);
  }

  /** Cancel: drop the preservation of the file's extents; the file is usable and unchanged. */
  onCancel(file: GuestmemFile, _ctx: CancelContext): void {
    const runs = this.preservedRuns.get(file);
    if (runs === undefined) return;
    this.preservedRuns.delete(file);
    forEachExtent(runs, (phys) => this.kho.unpreserveFolio(phys, EXTENT_ORDER));
  }

  /** Finish (after the blackout): take the extents of a restored file back from KHO (`kho_restore_folio`). */
  onFinish(file: GuestmemFile, _ctx: FinishContext): void {
    const runs = this.pendingRuns.get(file);
    if (runs === undefined) return;
    this.pendingRuns.delete(file);
    forEachExtent(runs, (phys) => this.kho.restoreFolio(phys, EXTENT_ORDER));
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
   * New kernel: checks the inode against the handed-over region, the superblock and KHO's
   * preserved memory, and claims its extents (one check per run: the blackout follows the
   * metadata). The folios are taken back at finish. Nothing is read from or written to the data
   * extents.
   */
  onRestore(state: GuestmemfsInodeV2Value, ctx: RestoreContext): GuestmemFile {
    const where = { driver: ctx.driver, session: ctx.session, token: ctx.token };
    const incoming = this.kho.incoming;
    const inode = checkIncomingInode(state, {
      region: this.sb.incomingRegion ?? this.fs.region,
      nextIno: this.sb.incomingNextIno,
      fs: this.fs,
      isPreserved: (phys, size) => incoming?.isPreserved(phys, size) === true,
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
    this.pendingRuns.set(adopted, adopted.runs);
    return adopted;
  }
  // #endregion hooks

  /** Whether this boot's update policy allows this driver a lossy downgrade. */
  private lossyAllowed(): boolean {
    const policy = this.luo.options.allowLossy;
    return policy === true || (Array.isArray(policy) && policy.includes(GuestmemfsInodeSchema.name));
  }
}
