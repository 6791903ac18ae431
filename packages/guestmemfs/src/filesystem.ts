import { type Kernel, PAGE_SIZE, type PhysRange } from "@liveupdate/core";
import {
  EXTENT_SIZE,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  GUESTMEMFS_ALL_FLAGS,
  GUESTMEMFS_ALL_SEALS,
  GUESTMEMFS_FLAG_NO_SEALING,
} from "./abi.js";
import {
  GuestmemfsBadNameError,
  GuestmemfsBusyError,
  GuestmemfsExistsError,
  GuestmemfsNotFoundError,
  GuestmemfsRangeError,
  GuestmemfsSealedError,
  GuestmemfsUnlinkedError,
} from "./errors.js";
import { ExtentAllocator, type ExtentRun, extentCount } from "./extent-allocator.js";
import { GuestmemFile, type GuestmemStat } from "./file.js";
import { GuestmemMapping } from "./mapping.js";
import { badNameReason } from "./names.js";

/** Options of {@link GuestmemFs.create}. */
export interface CreateFileOptions {
  /** Initial size in bytes (default 0); extents are allocated and zeroed. */
  readonly size?: number;
  /** `GUESTMEMFS_FLAG_*` bits (default 0). */
  readonly flags?: number;
}

/** Options of {@link GuestmemFs.mmap}. */
export interface MmapOptions {
  /** Offset in the file (4 KiB aligned; default 0). */
  readonly offset?: number;
  /** Bytes to map (default: from `offset` to the end of the file). */
  readonly length?: number;
  /** Writable mapping (default true). */
  readonly write?: boolean;
}

/** An inode as it comes back from a handover, already validated, to be adopted. */
export interface AdoptedInode {
  /** Inode number. */
  readonly ino: number;
  /** Name. */
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
  /** Extent runs in file order. */
  readonly runs: readonly ExtentRun[];
  /** Seals. */
  readonly seals: number;
  /** Flags. */
  readonly flags: number;
}

/**
 * The file system over one carved region: a 2 MiB extent allocator and a flat inode table
 * (name → inode). Operations are plain file-system semantics; the driver adds phase guards and
 * live update on top.
 */
export class GuestmemFs {
  /** The extent allocator of the region. */
  readonly allocator: ExtentAllocator;
  private readonly byName = new Map<string, GuestmemFile>();
  private readonly byIno = new Map<number, GuestmemFile>();
  /** Next inode number to hand out (inode numbers are never reused, also across updates). */
  nextIno = 1;
  /**
   * On a handover boot: the extents the previous kernel preserved that no file has adopted yet.
   * They are out of {@link GuestmemFs.allocator} until released, so a file created before the
   * VMM retrieves its sessions cannot be given (and zero) another file's data.
   */
  private handedOver: ExtentAllocator | undefined;

  /**
   * @param kernel - the running kernel (memory, liveness).
   * @param region - the carved region (2 MiB aligned).
   * @param preserved - on a handover boot, the memory the previous kernel preserved in the region
   *   (from KHO): every extent it overlaps is held back for adoption, never allocated.
   */
  constructor(
    private readonly kernel: Kernel,
    readonly region: PhysRange,
    preserved: readonly PhysRange[] = [],
  ) {
    const extents = Math.floor(region.size / EXTENT_SIZE);
    this.allocator = new ExtentAllocator(region.base, extents);
    if (preserved.length > 0) {
      const runs = extentRunsCovering(region.base, extents, preserved);
      // A fresh allocator and disjoint runs: every claim succeeds.
      this.allocator.claim(runs);
      this.handedOver = ExtentAllocator.empty(region.base, extents);
      this.handedOver.release(runs);
    }
  }

  /** Creates a file (`EEXIST`, `EINVAL` on a bad name or flags, `ENOSPC`). */
  create(name: string, options: CreateFileOptions = {}): GuestmemFile {
    this.kernel.assertAlive("guestmemfs.create");
    const reason = badNameReason(name);
    if (reason !== undefined)
      throw new GuestmemfsBadNameError(`bad file name: ${reason}`, { name: String(name) });
    if (this.byName.has(name)) throw new GuestmemfsExistsError(`${name}: file exists`, { name });
    const flags = options.flags ?? 0;
    if (!Number.isInteger(flags) || (flags & ~GUESTMEMFS_ALL_FLAGS) !== 0)
      throw new GuestmemfsRangeError(`${name}: unknown flags ${flags}`, { name, flags });
    const size = options.size ?? 0;
    const runs = this.allocFor(name, 0, size);
    const file = new GuestmemFile(this.nextIno++, name, size, runs, 0, flags);
    this.insert(file);
    return file;
  }

  /** The file called `name` (`ENOENT`). */
  open(name: string): GuestmemFile {
    this.kernel.assertAlive("guestmemfs.open");
    const file = this.byName.get(name);
    if (file === undefined)
      throw new GuestmemfsNotFoundError(`${name}: no such file`, { name: String(name) });
    return file;
  }

  /** The file with inode number `ino`, if any. */
  byInode(ino: number): GuestmemFile | undefined {
    return this.byIno.get(ino);
  }

  /** Every file's `stat`, by name. */
  list(): GuestmemStat[] {
    this.kernel.assertAlive("guestmemfs.list");
    return [...this.byName.values()].map((f) => f.stat()).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** The file's `stat` (`ENOENT` when unlinked). */
  stat(file: GuestmemFile): GuestmemStat {
    this.live(file, "stat");
    return file.stat();
  }

  /**
   * Changes the size (ftruncate): growing allocates and zeroes extents, shrinking frees the
   * extents past the new end and zeroes the tail of the last one. `EPERM` under `F_SEAL_GROW` /
   * `F_SEAL_SHRINK`, `EBUSY` when shrinking below a live mapping, `ENOSPC`.
   */
  truncate(file: GuestmemFile, size: number): void {
    this.live(file, "truncate");
    if (!Number.isSafeInteger(size) || size < 0)
      throw new GuestmemfsRangeError(`${file.name}: bad size ${size}`, {
        name: file.name,
        ino: file.ino,
        size,
      });
    const where = { name: file.name, ino: file.ino, size };
    if (size > file.size && (file.seals & F_SEAL_GROW) !== 0)
      throw new GuestmemfsSealedError(`${file.name}: F_SEAL_GROW`, where);
    if (size < file.size && (file.seals & F_SEAL_SHRINK) !== 0)
      throw new GuestmemfsSealedError(`${file.name}: F_SEAL_SHRINK`, where);
    if (size < Math.max(0, ...file.mappedEnds))
      throw new GuestmemfsBusyError(`${file.name}: shrinking below a live mapping`, where);
    const need = Math.ceil(size / EXTENT_SIZE);
    if (need > file.extents) {
      file.runs = [...file.runs, ...this.allocFor(file.name, file.allocated, size)];
    } else if (need < file.extents) {
      const { keep, drop } = splitRuns(file.runs, need);
      this.allocator.release(drop);
      file.runs = keep;
    }
    if (size < file.size && size % EXTENT_SIZE !== 0) {
      // Bytes past the new end read as zero if the file grows again (as a shrinking truncate does).
      this.kernel.machine.memory.fill(file.locate(size).phys, EXTENT_SIZE - (size % EXTENT_SIZE), 0);
    }
    file.size = size;
  }

  /** Removes the file and frees its extents (`EBUSY` while it is mapped). */
  unlink(file: GuestmemFile): void {
    this.live(file, "unlink");
    if (file.mappedEnds.length > 0)
      throw new GuestmemfsBusyError(`${file.name}: mapped`, { name: file.name, ino: file.ino });
    this.allocator.release(file.runs);
    file.runs = [];
    file.unlinked = true;
    this.byName.delete(file.name);
    this.byIno.delete(file.ino);
  }

  /** Maps a range of the file (`EINVAL` out of range, `EPERM` writable under a write seal). */
  mmap(file: GuestmemFile, options: MmapOptions = {}): GuestmemMapping {
    this.live(file, "mmap");
    const offset = options.offset ?? 0;
    const length = options.length ?? file.size - offset;
    const write = options.write ?? true;
    const where = { name: file.name, ino: file.ino, offset, length };
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      offset % PAGE_SIZE !== 0 ||
      length <= 0 ||
      offset + length > file.size
    )
      throw new GuestmemfsRangeError(`${file.name}: cannot map ${length} bytes at ${offset}`, where);
    if (write && (file.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) !== 0)
      throw new GuestmemfsSealedError(`${file.name}: sealed against writes`, where);
    if (write) file.writableMappings++;
    file.mappedEnds.push(offset + length);
    return new GuestmemMapping(file, offset, length, write, this.kernel);
  }

  /**
   * Adds seals (fcntl `F_ADD_SEALS`): `EPERM` with {@link GUESTMEMFS_FLAG_NO_SEALING} or under
   * `F_SEAL_SEAL`, `EBUSY` for `F_SEAL_WRITE` while a writable mapping exists, `EINVAL` for unknown bits.
   */
  addSeals(file: GuestmemFile, seals: number): void {
    this.live(file, "addSeals");
    const where = { name: file.name, ino: file.ino, seals };
    if (!Number.isInteger(seals) || (seals & ~GUESTMEMFS_ALL_SEALS) !== 0)
      throw new GuestmemfsRangeError(`${file.name}: unknown seals ${seals}`, where);
    if ((file.flags & GUESTMEMFS_FLAG_NO_SEALING) !== 0 || (file.seals & F_SEAL_SEAL) !== 0)
      throw new GuestmemfsSealedError(`${file.name}: sealing not allowed`, where);
    if ((seals & F_SEAL_WRITE) !== 0 && file.writableMappings > 0)
      throw new GuestmemfsBusyError(`${file.name}: F_SEAL_WRITE with writable mappings`, where);
    file.seals |= seals;
  }

  /** Extents handed over by the previous kernel that no file has adopted (yet). */
  get handedOverExtents(): number {
    return this.handedOver?.freeCount ?? 0;
  }

  /**
   * Returns the handed-over extents no file adopted (files the restore refused or dropped) to the
   * allocator. Called when the update is finished, after every preserved file was adopted or
   * refused — before that, a device may still be writing into them through tables kept in place.
   *
   * @returns the number of extents released.
   */
  releaseHandedOver(): number {
    const held = this.handedOver;
    if (held === undefined) return 0;
    this.handedOver = undefined;
    const runs = held.freeRuns();
    this.allocator.release(runs);
    return extentCount(runs);
  }

  /**
   * Adopts a validated inode from a handover: claims its extents (from those handed over, on a
   * handover boot), enters it in the table.
   *
   * @returns the file, or the index of the first run another file already owns.
   */
  adopt(inode: AdoptedInode): GuestmemFile | number {
    const clash = (this.handedOver ?? this.allocator).claim(inode.runs);
    if (clash >= 0) return clash;
    const file = new GuestmemFile(
      inode.ino,
      inode.name,
      inode.size,
      [...inode.runs],
      inode.seals,
      inode.flags,
    );
    this.insert(file);
    this.nextIno = Math.max(this.nextIno, inode.ino + 1);
    return file;
  }

  /** True when a file of that name or inode number exists. */
  has(name: string, ino: number): { name: boolean; ino: boolean } {
    return { name: this.byName.has(name), ino: this.byIno.has(ino) };
  }

  private insert(file: GuestmemFile): void {
    this.byName.set(file.name, file);
    this.byIno.set(file.ino, file);
  }

  /** Allocates and zeroes the extents that take a file from `allocated` bytes to `size`. */
  private allocFor(name: string, allocated: number, size: number): ExtentRun[] {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new GuestmemfsRangeError(`${name}: bad size ${size}`, { name, size });
    const runs = this.allocator.alloc(Math.ceil(size / EXTENT_SIZE) - allocated / EXTENT_SIZE);
    // New extents read as zero; unbacked emulated memory makes this cheap even for GiBs.
    for (const run of runs) this.kernel.machine.memory.fill(run.phys, run.count * EXTENT_SIZE, 0);
    return runs;
  }

  private live(file: GuestmemFile, what: string): void {
    this.kernel.assertAlive(`guestmemfs.${what}`);
    if (file.unlinked || this.byIno.get(file.ino) !== file)
      throw new GuestmemfsUnlinkedError(`${file.name}: unlinked`, {
        name: file.name,
        ino: file.ino,
        operation: what,
      });
  }
}

/** Splits runs after the first `extents` extents. */
function splitRuns(runs: readonly ExtentRun[], extents: number): { keep: ExtentRun[]; drop: ExtentRun[] } {
  const keep: ExtentRun[] = [];
  const drop: ExtentRun[] = [];
  let left = extents;
  for (const run of runs) {
    if (left >= run.count) keep.push(run);
    else if (left === 0) drop.push(run);
    else {
      keep.push({ phys: run.phys, count: left });
      drop.push({ phys: run.phys + left * EXTENT_SIZE, count: run.count - left });
    }
    left = Math.max(0, left - run.count);
  }
  return { keep, drop };
}

/** The disjoint extent runs (inside the region) that overlap any of `ranges` (sorted, disjoint). */
function extentRunsCovering(base: number, extents: number, ranges: readonly PhysRange[]): ExtentRun[] {
  const runs: ExtentRun[] = [];
  let next = 0; // first extent not covered yet: rounding out can make neighbouring ranges meet
  for (const range of ranges) {
    const first = Math.max(Math.floor((range.base - base) / EXTENT_SIZE), next);
    const end = Math.min(Math.ceil((range.base + range.size - base) / EXTENT_SIZE), extents);
    if (end <= first) continue;
    const last = runs[runs.length - 1];
    if (last !== undefined && first === next)
      runs[runs.length - 1] = { phys: last.phys, count: last.count + end - first };
    else runs.push({ phys: base + first * EXTENT_SIZE, count: end - first });
    next = end;
  }
  return runs;
}
