import { defineKernelBuild, MiB } from "@liveupdate/core";
import { LiveUpdateHarness } from "@liveupdate/core/testkit";
import { describe, expect, it } from "vitest";
import {
  EXTENT_SIZE,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  GUESTMEMFS_FLAG_NO_SEALING,
  GuestmemfsBadNameError,
  GuestmemfsBusyError,
  GuestmemfsDriver,
  GuestmemfsExistsError,
  GuestmemfsNoRegionError,
  GuestmemfsNoSpaceError,
  GuestmemfsNotFoundError,
  GuestmemfsRangeError,
  GuestmemfsSealedError,
  GuestmemfsUnlinkedError,
} from "../src/index.js";

const build = defineKernelBuild({
  version: "6.18-gmfs",
  drivers: [GuestmemfsDriver],
  cmdline: "guestmemfs=32M",
});

function boot() {
  const h = LiveUpdateHarness.boot({ from: build, memory: "1G" });
  return { h, fs: h.driver(GuestmemfsDriver) };
}

describe("guestmemfs files", () => {
  it("creates, lists, stats, opens and unlinks files over the carved region", () => {
    const { h, fs } = boot();
    const region = h.kernel.kernel.carveOut("guestmemfs")!;
    expect(region.size).toBe(32 * MiB);
    expect(fs.fs.region).toEqual(region);
    const a = fs.create("vm-a", { size: 3 * MiB });
    const b = fs.create("vm-b", { size: 0 });
    expect(fs.stat(a)).toMatchObject({ ino: 1, name: "vm-a", size: 3 * MiB, allocated: 4 * MiB, extents: 2 });
    expect(fs.list().map((s) => s.name)).toEqual(["vm-a", "vm-b"]);
    expect(fs.open("vm-b")).toBe(b);
    for (const run of a.runs) {
      expect(run.phys % EXTENT_SIZE).toBe(0);
      expect(run.phys >= region.base && run.phys + run.count * EXTENT_SIZE <= region.base + region.size).toBe(
        true,
      );
    }
    fs.unlink(a);
    expect(() => fs.open("vm-a")).toThrow(GuestmemfsNotFoundError);
    expect(() => fs.stat(a)).toThrow(GuestmemfsUnlinkedError);
    expect(() => fs.truncate(a, 0)).toThrow(GuestmemfsUnlinkedError);
    expect(fs.create("vm-c").ino).toBe(3); // inode numbers are never reused
    expect(fs.fs.allocator.freeCount).toBe(16);
  });

  it("grows and shrinks with truncate, zeroing what becomes visible again", () => {
    const { fs } = boot();
    const f = fs.create("f", { size: EXTENT_SIZE });
    const m = fs.mmap(f);
    m.write(EXTENT_SIZE - 4, new Uint8Array([9, 9, 9, 9]));
    m.unmap();
    fs.truncate(f, EXTENT_SIZE - 2);
    fs.truncate(f, 3 * EXTENT_SIZE);
    expect(f.extents).toBe(3);
    const again = fs.mmap(f);
    expect([...again.read(EXTENT_SIZE - 4, 4)]).toEqual([9, 9, 0, 0]);
    again.unmap();
    fs.truncate(f, 1);
    expect(f.extents).toBe(1);
    expect(fs.fs.allocator.freeCount).toBe(15);
  });

  it("refuses bad names, duplicates, out of space and bad sizes with errno-like typed errors", () => {
    const { fs } = boot();
    for (const name of ["", "a/b", "x\0y", ".", "..", "n".repeat(256)]) {
      expect(() => fs.create(name), JSON.stringify(name)).toThrow(GuestmemfsBadNameError);
    }
    expect(() => fs.create(`${"é".repeat(127)}e`)).not.toThrow(); // 255 bytes of UTF-8
    fs.create("dup");
    expect(() => fs.create("dup")).toThrow(GuestmemfsExistsError);
    const full = fs.create("big", { size: 15 * EXTENT_SIZE });
    let error: unknown;
    try {
      fs.create("more", { size: 2 * EXTENT_SIZE });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GuestmemfsNoSpaceError);
    expect(error).toMatchObject({ errno: "ENOSPC", context: { extents: 2, free: 1 } });
    expect(() => fs.truncate(full, 17 * EXTENT_SIZE)).toThrow(GuestmemfsNoSpaceError);
    expect(full.extents).toBe(15); // nothing taken on failure
    expect(() => fs.truncate(full, -1)).toThrow(GuestmemfsRangeError);
    expect(() => fs.create("flags", { flags: 0x100 })).toThrow(GuestmemfsRangeError);
  });

  it("maps files: physical extents, reads and writes straight to physical memory, bounds", () => {
    const { h, fs } = boot();
    fs.create("pad", { size: EXTENT_SIZE });
    const f = fs.create("guest-ram", { size: 4 * EXTENT_SIZE });
    const m = fs.mmap(f, { offset: 4096, length: 2 * EXTENT_SIZE });
    const extents = m.extents(0x1_0000_0000);
    expect(extents.reduce((n, e) => n + e.size, 0)).toBe(2 * EXTENT_SIZE);
    expect(extents[0]).toEqual({
      guestPhys: 0x1_0000_0000,
      hostPhys: f.runs[0]!.phys + 4096,
      size: extents[0]!.size,
    });
    m.write(EXTENT_SIZE - 2, new Uint8Array([1, 2, 3, 4])); // crosses an extent boundary
    const phys = m.translate(EXTENT_SIZE - 2);
    expect(h.machine.memory.readU8(phys)).toBe(1);
    h.machine.memory.writeU8(m.translate(100), 0x5a); // a device writing the page directly
    expect(m.read(100, 1)[0]).toBe(0x5a);
    expect([...m.read(EXTENT_SIZE - 2, 4)]).toEqual([1, 2, 3, 4]);
    expect(() => m.read(2 * EXTENT_SIZE - 1, 2)).toThrow(GuestmemfsRangeError);
    expect(() => fs.mmap(f, { offset: 1 })).toThrow(GuestmemfsRangeError);
    expect(() => fs.mmap(f, { offset: 0, length: 5 * EXTENT_SIZE })).toThrow(GuestmemfsRangeError);
    expect(() => fs.truncate(f, EXTENT_SIZE)).toThrow(GuestmemfsBusyError);
    expect(() => fs.unlink(f)).toThrow(GuestmemfsBusyError);
    const ro = fs.mmap(f, { write: false });
    expect(() => ro.write(0, new Uint8Array(1))).toThrow(GuestmemfsSealedError);
    m.unmap();
    ro.unmap();
    expect(() => m.read(0, 1)).toThrow(GuestmemfsRangeError);
    fs.unlink(f);
  });

  it("seals like memfd: never with NO_SEALING, F_SEAL_SEAL final, F_SEAL_WRITE busy while writable mappings exist", () => {
    const { fs } = boot();
    const unsealable = fs.create("unsealable", { size: EXTENT_SIZE, flags: GUESTMEMFS_FLAG_NO_SEALING });
    expect(() => fs.addSeals(unsealable, F_SEAL_GROW)).toThrow(GuestmemfsSealedError);
    const f = fs.create("sealed", { size: EXTENT_SIZE });
    fs.addSeals(f, F_SEAL_GROW | F_SEAL_SHRINK);
    expect(() => fs.truncate(f, 2 * EXTENT_SIZE)).toThrow(GuestmemfsSealedError);
    expect(() => fs.truncate(f, 0)).toThrow(GuestmemfsSealedError);
    const m = fs.mmap(f);
    expect(() => fs.addSeals(f, F_SEAL_WRITE)).toThrow(GuestmemfsBusyError);
    fs.addSeals(f, F_SEAL_FUTURE_WRITE);
    m.write(0, new Uint8Array([7])); // an existing writable mapping keeps writing
    expect(() => fs.mmap(f)).toThrow(GuestmemfsSealedError);
    m.unmap();
    fs.addSeals(f, F_SEAL_WRITE | F_SEAL_SEAL);
    expect(() => fs.addSeals(f, 0)).toThrow(GuestmemfsSealedError);
    expect(() => fs.addSeals(f, 0x40)).toThrow(GuestmemfsRangeError);
    expect(fs.stat(f).seals).toBe(
      F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE | F_SEAL_WRITE | F_SEAL_SEAL,
    );
  });

  it("has no file system on a kernel without the carve-out", () => {
    const bare = defineKernelBuild({
      version: "bare",
      drivers: [GuestmemfsDriver],
      cmdline: "guestmemfs=0x0",
    });
    expect(() => LiveUpdateHarness.boot({ from: bare })).toThrow(/carve-out guestmemfs/);
    const h = LiveUpdateHarness.boot({ from: build, memory: "1G" });
    expect(() => h.driver(GuestmemfsDriver).create("x")).not.toThrow();
    expect(new GuestmemfsNoRegionError("x").errno).toBe("ENODEV");
  });
});
