import { hex } from "@liveupdate/core";
import { EXTENT_SIZE } from "@liveupdate/guestmemfs";
import type { ObjectContext, ObjectDecoder } from "../registry.js";

interface InodeState {
  readonly ino: number;
  readonly name: string;
  readonly size: bigint;
  readonly runs: ReadonlyArray<{ readonly phys: bigint; readonly nr_extents: number }>;
}

/**
 * A guestmemfs file: its extent runs, claimed as the file's data (preserved in place as order-9
 * folios; the handover carries only where they are).
 */
export const GUESTMEMFS_DECODER: ObjectDecoder = {
  driver: "guestmemfs",
  describe(ctx: ObjectContext) {
    const inode = ctx.state as InodeState;
    const owner = `guestmemfs "${inode.name}" data`;
    const runs = inode.runs.map((r) => ({ phys: Number(r.phys), size: r.nr_extents * EXTENT_SIZE }));
    const total = runs.reduce((a, r) => a + r.size, 0);
    return {
      json: {
        file: inode.name,
        ino: inode.ino,
        runs: runs.map((r) => ({ phys: hex(r.phys), size: r.size })),
      },
      lines: [
        `file "${inode.name}" (ino ${inode.ino}): ${runs.length} extent run(s), ${total / 2 ** 20} MiB in place: ${runs
          .slice(0, 4)
          .map((r) => `[${hex(r.phys)}, +${r.size / 2 ** 20} MiB)`)
          .join(" ")}${runs.length > 4 ? " …" : ""}`,
      ],
      claims: runs.map((r) => ({ ...r, owner })),
    };
  },
};
