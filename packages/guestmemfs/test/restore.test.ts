import {
  CarveOutError,
  defineKernelBuild,
  LiveUpdateDriver,
  LiveUpdateError,
  LuoFlbUnavailableError,
  LuoRestoreAbortedError,
  MiB,
} from "@liveupdate/core";
import { fieldOffset, LiveUpdateHarness, type LuoHandoverImage } from "@liveupdate/core/testkit";
import { describe, expect, it } from "vitest";
import {
  EXTENT_ORDER,
  EXTENT_SIZE,
  type GuestmemFile,
  GuestmemfsCorruptInodeError,
  GuestmemfsDriver,
  GuestmemfsInodeSchema,
  GuestmemfsInodeV2,
  GuestmemfsRegionMismatchError,
  GuestmemfsSuperblock,
} from "../src/index.js";
import { buildV2, buildV2b, MEMORY } from "./helpers.js";

type Machine = Parameters<NonNullable<Parameters<LiveUpdateHarness["update"]>[0]>["beforeBoot"] & {}>[1];

const field = (name: string) => fieldOffset(GuestmemfsInodeV2, name);
/** Physical address of token `token`'s inode record and of its first extent run. */
function inode(handover: LuoHandoverImage, machine: Machine, token: number) {
  const data = handover.file("default", token)!.data;
  const runs = Number(machine.memory.readU64(data + field("runs")));
  return { data, runs };
}

/** Two preserved files, then an update with `corrupt` playing a hostile old kernel. */
function hostile(corrupt: (handover: LuoHandoverImage, machine: Machine, files: GuestmemFile[]) => void) {
  const h = LiveUpdateHarness.boot({ from: buildV2, to: buildV2b, memory: MEMORY });
  const fs = h.driver(GuestmemfsDriver);
  const files = [fs.create("vm-a", { size: 4 * MiB }), fs.create("vm-b", { size: 3 * MiB })];
  files.forEach((f, i) => {
    h.preserve(i + 1, f);
  });
  try {
    h.update({ beforeBoot: (handover, machine) => corrupt(handover, machine, files) });
  } catch (error) {
    return { error };
  }
  return { error: undefined };
}

/** The typed error at the bottom of a cause chain. */
function rootCause(error: unknown): unknown {
  let e = error;
  while (e instanceof LiveUpdateError && e.cause !== undefined) e = e.cause;
  return e;
}

describe("restore trusts nothing", () => {
  const cases: [
    string,
    string,
    (handover: LuoHandoverImage, machine: Machine, files: GuestmemFile[]) => void,
  ][] = [
    [
      "an extent outside the carved region",
      "runs[0].phys",
      (ho, m, files) => {
        const { runs } = inode(ho, m, 2);
        m.memory.writeU64(runs, BigInt(files[0]!.runs[0]!.phys - 64 * MiB));
      },
    ],
    [
      "an extent not 2 MiB aligned",
      "runs[0].phys",
      (ho, m) => {
        const { runs } = inode(ho, m, 2);
        m.memory.writeU64(runs, m.memory.readU64(runs) + 4096n);
      },
    ],
    [
      "an extent shared with another file",
      "runs[0]",
      (ho, m, files) => {
        m.memory.writeU64(inode(ho, m, 2).runs, BigInt(files[0]!.runs[0]!.phys));
      },
    ],
    [
      "a size beyond the allocated extents",
      "size",
      (ho, m) => {
        m.memory.writeU64(inode(ho, m, 1).data + field("size"), BigInt(2 * EXTENT_SIZE + 1));
      },
    ],
    [
      "a name with a slash",
      "name",
      (ho, m) => {
        m.memory.write(inode(ho, m, 2).data + field("name"), new TextEncoder().encode("vm/b"));
      },
    ],
    [
      "a duplicate name",
      "name",
      (ho, m) => {
        m.memory.write(inode(ho, m, 2).data + field("name"), new TextEncoder().encode("vm-a"));
      },
    ],
    [
      "an extent count that disagrees with the runs",
      "nr_extents",
      (ho, m) => {
        m.memory.writeU32(inode(ho, m, 1).data + field("nr_extents"), 3);
      },
    ],
    [
      "an inode number the superblock never handed out",
      "ino",
      (ho, m) => {
        m.memory.writeU32(inode(ho, m, 2).data + field("ino"), 99);
      },
    ],
    [
      "a duplicate inode number",
      "ino",
      (ho, m) => {
        m.memory.writeU32(inode(ho, m, 2).data + field("ino"), 1);
      },
    ],
  ];

  for (const [what, path, corrupt] of cases) {
    it(`refuses ${what} with a typed error naming the inode and the field (${path})`, () => {
      const { error } = hostile(corrupt);
      expect(error).toBeInstanceOf(LuoRestoreAbortedError);
      const cause = rootCause(error);
      expect(cause).toBeInstanceOf(GuestmemfsCorruptInodeError);
      expect((cause as GuestmemfsCorruptInodeError).context).toMatchObject({
        driver: "guestmemfs",
        session: "default",
        field: path,
        ino: expect.any(Number),
      });
    });
  }

  it("refuses a run count that points past the handed-over data (typed all the way down)", () => {
    const { error } = hostile((ho, m) => {
      m.memory.writeU32(inode(ho, m, 2).data + field("nr_runs"), 1 << 19);
    });
    expect(error).toBeInstanceOf(LuoRestoreAbortedError);
    let e: unknown = error;
    while (e instanceof LiveUpdateError && e.cause !== undefined) e = e.cause;
    expect(e).toBeInstanceOf(LiveUpdateError);
  });

  it("never takes a folio of a refused file, and restores the others", () => {
    const h = LiveUpdateHarness.boot({ from: buildV2, to: buildV2b, memory: MEMORY });
    const fs = h.driver(GuestmemfsDriver);
    const files = [fs.create("vm-a", { size: 4 * MiB }), fs.create("vm-b", { size: 3 * MiB })];
    files.forEach((f, i) => {
      h.preserve(i + 1, f);
    });
    const result = h.update({
      needs: {}, // resume at once; retrieve below
      beforeBoot: (ho, m) =>
        m.memory.writeU64(inode(ho, m, 1).data + field("size"), BigInt(64 * EXTENT_SIZE)),
    });
    const session = result.session();
    expect(() => session.retrieve(1)).toThrow(LuoRestoreAbortedError);
    const kho = result.kernel.kho.incoming!;
    for (const run of files[0]!.runs) expect(kho.isRestored(run.phys, EXTENT_ORDER)).toBe(false);
    const gmfs = result.kernel.driver(GuestmemfsDriver).fs;
    // The 2 + 2 extents handed over are held back from the allocator; the refused file's stay held.
    expect(gmfs.allocator.freeCount).toBe(28);
    expect(gmfs.handedOverExtents).toBe(4);
    const b = session.retrieve(2) as GuestmemFile;
    expect(b.runs).toEqual(files[1]!.runs);
    expect(gmfs.handedOverExtents).toBe(2);
    // Folios are taken back when the session finishes, after the blackout; the refused file's never.
    result.finish();
    for (const run of b.runs) expect(kho.isRestored(run.phys, EXTENT_ORDER)).toBe(true);
    for (const run of files[0]!.runs) expect(kho.isRestored(run.phys, EXTENT_ORDER)).toBe(false);
    // Finished: the refused file's extents return to the allocator (the other file keeps its own).
    expect(gmfs.handedOverExtents).toBe(0);
    expect(gmfs.allocator.freeCount).toBe(30);
    expect(result.kernel.driver(GuestmemfsDriver).sb.releasedAtFinish).toBe(2);
  });

  it("never allocates a handed-over extent before its file is retrieved", () => {
    const h = LiveUpdateHarness.boot({ from: buildV2, to: buildV2b, memory: MEMORY });
    const fs = h.driver(GuestmemfsDriver);
    const vm = fs.create("vm", { size: 6 * MiB });
    const data = new Uint8Array(6 * MiB).map((_, i) => (i * 7) & 0xff);
    fs.mmap(vm).write(0, data);
    h.preserve(1, vm);
    const result = h.update({ needs: {} }); // the VMM has not retrieved anything yet
    const next = result.kernel.driver(GuestmemfsDriver);
    // A file created first gets other extents; the preserved data is neither given away nor zeroed.
    const fresh = next.create("scratch", { size: 8 * MiB });
    const held = new Set(vm.runs.map((r) => r.phys));
    for (const run of fresh.runs) expect(held.has(run.phys)).toBe(false);
    expect(fresh.ino).toBeGreaterThan(vm.ino); // inode numbers of the previous kernel are not reused
    const back = result.session().retrieve(1) as GuestmemFile;
    expect(back.runs).toEqual(vm.runs);
    expect(next.mmap(back).read(0, data.length)).toEqual(data);
    // Space left: 32 extents, 3 adopted, 4 for the new file; nothing returned at finish.
    result.finish();
    expect(next.fs.allocator.freeCount).toBe(32 - 3 - 4);
  });
});

/** Updates a machine with one preserved file to a build with `cmdline`; returns what the update threw. */
function carveUpdate(cmdline: string): unknown {
  const to = defineKernelBuild({ version: `6.18-${cmdline}`, drivers: [GuestmemfsDriver], cmdline });
  const h = LiveUpdateHarness.boot({ from: buildV2, to, memory: MEMORY });
  h.preserve(1, h.driver(GuestmemfsDriver).create("vm", { size: 4 * MiB }));
  try {
    h.update();
  } catch (e) {
    if (e instanceof CarveOutError) throw e;
    return e;
  }
  return undefined;
}

describe("adopting the carved region", () => {
  it("refuses a next kernel whose carve is smaller, larger, elsewhere or missing, before any file is touched", () => {
    // A larger carve at the top of RAM runs into the scratch areas: the kernel itself refuses to boot.
    expect(() => carveUpdate("guestmemfs=128M")).toThrow(CarveOutError);
    for (const cmdline of ["guestmemfs=32M", "guestmemfs=64M@0x8000000", "guestmemfs=0"]) {
      const error = carveUpdate(cmdline);
      expect(error, cmdline).toBeInstanceOf(LuoRestoreAbortedError);
      expect((error as Error).cause).toBeInstanceOf(LuoFlbUnavailableError);
      expect(rootCause(error)).toBeInstanceOf(GuestmemfsRegionMismatchError);
      expect((rootCause(error) as GuestmemfsRegionMismatchError).context.field).toMatch(/^region_/);
    }
  });

  it("under the reset policy drops the files instead and reports it", () => {
    @LiveUpdateDriver({ schema: GuestmemfsInodeSchema, flbs: [GuestmemfsSuperblock], restorePolicy: "reset" })
    class ForgivingGuestmemfs extends GuestmemfsDriver {}
    const from = defineKernelBuild({ version: "a", drivers: [ForgivingGuestmemfs] });
    const to = defineKernelBuild({ version: "b", drivers: [ForgivingGuestmemfs], cmdline: "guestmemfs=32M" });
    const h = LiveUpdateHarness.boot({ from, to, memory: MEMORY });
    h.preserve(1, h.driver(ForgivingGuestmemfs).create("vm", { size: 4 * MiB }));
    const result = h.update();
    expect(result.kernel.luo.resets.map((r) => [r.driver, r.code])).toEqual(
      expect.arrayContaining([
        ["guestmemfs-sb", "GUESTMEMFS_REGION_MISMATCH"],
        ["guestmemfs", "LUO_FLB_UNAVAILABLE"],
      ]),
    );
    expect(result.kernel.driver(ForgivingGuestmemfs).list()).toEqual([]);
  });
});
