import {
  type FlbFinishContext,
  type FlbRestoreContext,
  type FlbSerializeContext,
  Kernel,
  Kho,
  LiveUpdateFlb,
  Luo,
  LuoFlbUnavailableError,
  type OnFlbFinish,
  type OnFlbRestore,
  type OnFlbSerialize,
  type PhysRange,
} from "@liveupdate/core";
import { EXTENT_SIZE, GUESTMEMFS_CARVE_OUT } from "./abi.js";
import { GuestmemfsNoRegionError, GuestmemfsRegionMismatchError } from "./errors.js";
import { GuestmemFs } from "./filesystem.js";
import { GuestmemfsSuperblockSchema, type GuestmemfsSuperblockV1Value } from "./schema.js";

/**
 * The file system of one boot, shared by every preserved file (an FLB): it owns the carved
 * region, the extent allocator and the inode table. Preserved with the first file, restored
 * before the first file — where the next kernel checks its own carve-out against the handed-over
 * region before any file is adopted.
 */
// `reset`: when the region cannot be adopted, each file's own restore policy decides (abort fails the boot,
// reset drops the file); an FLB that aborted would fail the boot whatever the files say.
@LiveUpdateFlb({ schema: GuestmemfsSuperblockSchema, restorePolicy: "reset" })
export class GuestmemfsSuperblock
  implements
    OnFlbSerialize<GuestmemfsSuperblockV1Value>,
    OnFlbRestore<GuestmemfsSuperblockV1Value>,
    OnFlbFinish
{
  private fsValue: GuestmemFs | undefined;
  /** The region the previous kernel handed over (on a restored boot): restored extents must lie in it. */
  incomingRegion: PhysRange | undefined;
  /** Inode numbers below this were handed out by a previous kernel (restored inodes must be below it). */
  incomingNextIno = 1;

  /** Extents returned to the allocator when the update finished (handed over, adopted by no file). */
  releasedAtFinish = 0;

  /** Whether the handover's superblock, if any, has been restored (or found absent or unusable). */
  private incomingSettled = false;

  /**
   * @param kernel - the running kernel (its carve-out and memory).
   * @param kho - this boot's KHO: on a handover boot, what the previous kernel preserved in the region.
   * @param luo - the orchestrator (to restore the handed-over superblock on first use).
   */
  constructor(
    readonly kernel: Kernel,
    readonly kho: Kho,
    readonly luo: Luo,
  ) {}

  /**
   * The file system over this boot's `guestmemfs` carve-out.
   *
   * @throws {@link GuestmemfsNoRegionError} (ENODEV) when the kernel carved none.
   */
  get fs(): GuestmemFs {
    if (this.fsValue === undefined) {
      const region = this.kernel.carveOut(GUESTMEMFS_CARVE_OUT);
      if (region === undefined) {
        throw new GuestmemfsNoRegionError(`kernel ${this.kernel.build.version} has no guestmemfs carve-out`, {
          build: this.kernel.build.version,
          param: GUESTMEMFS_CARVE_OUT,
        });
      }
      // Whatever the previous kernel preserved in the region is held back from the allocator from
      // the start, before the superblock is restored (that waits for the first retrieved file).
      const preserved = this.kho.incoming?.preservedRangesIn(region.base, region.size) ?? [];
      this.fsValue = new GuestmemFs(this.kernel, region, preserved);
    }
    if (!this.incomingSettled) {
      this.incomingSettled = true;
      this.restoreIncomingNow();
    }
    return this.fsValue;
  }

  /**
   * On a handover boot, restores the handed-over superblock at the file system's first use (upstream
   * `liveupdate_flb_get_incoming()`) rather than with the first retrieved file: the region is
   * checked before anything else, and inode numbers the previous kernel handed out are never
   * given to a file created before the VMM retrieves its sessions.
   */
  private restoreIncomingNow(): void {
    if (this.kho.incoming === undefined) return;
    try {
      this.luo.flbIncoming(GuestmemfsSuperblock);
    } catch (error) {
      // The handed-over file system is unusable (its region was refused): every preserved file's
      // restore is refused through it, and this boot starts a file system of its own.
      if (!(error instanceof LuoFlbUnavailableError)) throw error;
    }
  }

  /** The region and the inode counter. */
  onSerialize(_ctx: FlbSerializeContext): GuestmemfsSuperblockV1Value {
    const fs = this.fs;
    return {
      region_base: BigInt(fs.region.base),
      region_size: BigInt(fs.region.size),
      extent_size: EXTENT_SIZE,
      next_ino: fs.nextIno,
    };
  }

  /**
   * Adopts the handed-over region: this kernel must have carved exactly the same range (a carve
   * that is smaller, larger, elsewhere or missing refuses the adoption, before any file is
   * touched — a different range may hold memory the previous kernel used for something else).
   *
   * @throws {@link GuestmemfsRegionMismatchError} naming the field that differs.
   */
  onRestore(state: GuestmemfsSuperblockV1Value, _ctx: FlbRestoreContext): void {
    this.incomingSettled = true; // restored now (lazily, or on demand from `fs`): do not ask again
    const base = Number(state.region_base);
    const size = Number(state.region_size);
    const carve = this.kernel.carveOut(GUESTMEMFS_CARVE_OUT);
    const where = { driver: "guestmemfs-sb", handedOver: { base, size }, carved: carve };
    if (carve === undefined)
      throw new GuestmemfsRegionMismatchError("no guestmemfs carve-out in this kernel", {
        ...where,
        field: "region_base",
      });
    if (base !== carve.base)
      throw new GuestmemfsRegionMismatchError("the carve-out is elsewhere", {
        ...where,
        field: "region_base",
      });
    if (size !== carve.size)
      throw new GuestmemfsRegionMismatchError("the carve-out has another size", {
        ...where,
        field: "region_size",
      });
    this.incomingRegion = { base, size };
    this.incomingNextIno = state.next_ino;
    this.fs.nextIno = Math.max(this.fs.nextIno, state.next_ino);
  }

  /**
   * The update is finished: every preserved file was adopted or refused (unretrieved ones are
   * restored at finish, and the file system finishes after its last file). The extents no file
   * adopted go back to the allocator; until now a device could still write into them through
   * IOMMU tables kept in place.
   */
  onFinish(_ctx: FlbFinishContext): void {
    this.releasedAtFinish += this.fs.releaseHandedOver();
  }
}
