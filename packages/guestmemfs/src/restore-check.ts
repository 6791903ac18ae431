import type { PhysRange } from "@liveupdate/core";
import { EXTENT_SIZE } from "./abi.js";
import { GuestmemfsCorruptInodeError } from "./errors.js";
import type { ExtentRun } from "./extent-allocator.js";
import type { AdoptedInode, GuestmemFs } from "./filesystem.js";
import { badNameReason } from "./names.js";
import type { GuestmemfsInodeV2Value } from "./schema.js";

/** Where an incoming inode is checked: the handed-over region, the inode counter, the file system. */
export interface InodeCheckScope {
  /** The region the previous kernel handed over (inside this kernel's carve-out). */
  readonly region: PhysRange;
  /** Inode numbers the previous kernel handed out are below this. */
  readonly nextIno: number;
  /** The file system the inode joins (names and inode numbers already taken). */
  readonly fs: GuestmemFs;
  /** Whether the previous kernel preserved every byte of a range (KHO's incoming memory map). */
  isPreserved(phys: number, size: number): boolean;
  /** Session and token, for errors. */
  readonly where: { readonly driver: string; readonly session: string; readonly token: bigint };
}

/**
 * Checks an incoming inode before anything of it is used (restore trusts nothing): a valid,
 * unused name and inode number; runs 2 MiB aligned, inside the handed-over region, not
 * overlapping each other, each preserved by the previous kernel (one lookup per run); `nr_extents`
 * equal to the runs' total; `size` within the extents. (Extents shared with another file are
 * caught when the file system claims them.)
 *
 * @returns the inode to adopt.
 * @throws {@link GuestmemfsCorruptInodeError} naming the inode and the field.
 */
export function checkIncomingInode(state: GuestmemfsInodeV2Value, scope: InodeCheckScope): AdoptedInode {
  const corrupt = (field: string, reason: string, extra: Record<string, unknown> = {}): never => {
    throw new GuestmemfsCorruptInodeError(
      `guestmemfs inode ${state.ino} (token ${scope.where.token}): ${field}: ${reason}`,
      {
        ...scope.where,
        ino: state.ino,
        field,
        ...extra,
      },
    );
  };
  if (state.ino >= scope.nextIno) corrupt("ino", `not below the superblock's next_ino ${scope.nextIno}`);
  const reason = badNameReason(state.name);
  if (reason !== undefined) corrupt("name", reason);
  const taken = scope.fs.has(state.name, state.ino);
  if (taken.ino) corrupt("ino", "another file has this inode number");
  if (taken.name) corrupt("name", "another file has this name", { name: state.name });

  const end = scope.region.base + scope.region.size;
  const runs: ExtentRun[] = [];
  let total = 0;
  state.runs.forEach((run, i) => {
    const phys = Number(run.phys);
    const field = `runs[${i}]`;
    if (!Number.isSafeInteger(phys) || phys % EXTENT_SIZE !== 0)
      corrupt(`${field}.phys`, "not 2 MiB aligned", { phys: run.phys });
    if (phys < scope.region.base || phys + run.nr_extents * EXTENT_SIZE > end)
      corrupt(`${field}.phys`, "outside the carved region", { phys, region: scope.region });
    if (!scope.isPreserved(phys, run.nr_extents * EXTENT_SIZE))
      corrupt(field, "extents not preserved by the previous kernel", { phys });
    runs.push({ phys, count: run.nr_extents });
    total += run.nr_extents;
  });
  const sorted = [...runs].sort((a, b) => a.phys - b.phys);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (prev.phys + prev.count * EXTENT_SIZE > sorted[i]!.phys)
      corrupt(`runs[${runs.indexOf(sorted[i]!)}]`, "overlaps another run of the file");
  }
  if (total !== state.nr_extents) corrupt("nr_extents", `the runs hold ${total} extents`);
  const size = Number(state.size);
  if (!Number.isSafeInteger(size) || size > total * EXTENT_SIZE)
    corrupt("size", `larger than its ${total} extents`, { size: state.size });
  return { ino: state.ino, name: state.name, size, runs, seals: state.seals, flags: state.flags };
}
