import {
  type FlbRestoreContext,
  type FlbSerializeContext,
  Kernel,
  LiveUpdateFlb,
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
  implements OnFlbSerialize<GuestmemfsSuperblockV1Value>, OnFlbRestore<GuestmemfsSuperblockV1Value>
{
  private fsValue: GuestmemFs | undefined;
  /** The region the previous kernel handed over (on a restored boot): restored extents must lie in it. */
  incomingRegion: PhysRange | undefined;
  /** Inode numbers below this were handed out by a previous kernel (restored inodes must be below it). */
  incomingNextIno = 1;

  /** @param kernel - the running kernel (its carve-out and memory). */
  constructor(readonly kernel: Kernel) {}

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
      this.fsValue = new GuestmemFs(this.kernel, region);
    }
    return this.fsValue;
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
}
