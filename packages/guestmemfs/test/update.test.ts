import {
  LuoHookFailedError,
  LuoOperationRefusedError,
  MiB,
  PAGE_SIZE,
  POISON_BYTE,
  Prng,
  SchemaDowngradeRefusedError,
} from "@liveupdate/core";
import { LiveUpdateHarness, MemorySnapshot, withNative } from "@liveupdate/core/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DataExtentAudit,
  EXTENT_ORDER,
  EXTENT_SIZE,
  F_SEAL_GROW,
  F_SEAL_SHRINK,
  type GuestmemFile,
  GuestmemfsDriver,
} from "../src/index.js";
import {
  buildV1,
  buildV2,
  buildV2b,
  checksum,
  MEMORY,
  randomSize,
  type Sample,
  thrown,
  writeSamples,
} from "./helpers.js";

describe("guestmemfs across a live update", () => {
  it("keeps random file sets in place: same extents, same bytes, 0 bytes written into data extents (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), (seed) => {
        const rng = new Prng(seed);
        const h = LiveUpdateHarness.boot({ from: buildV2, to: buildV2b, memory: MEMORY, seed });
        const fs = h.driver(GuestmemfsDriver);
        const files: { file: GuestmemFile; samples: Sample[]; preserved: boolean }[] = [];
        for (let i = rng.int(1, 6); i > 0; i--) {
          const file = fs.create(`vm-${i}`, { size: randomSize(rng, 5) });
          // Fragment the allocator now and then, so files get several runs.
          if (rng.int(0, 2) === 0) fs.unlink(fs.create(`gap-${i}`, { size: rng.int(1, 2) * EXTENT_SIZE }));
          files.push({
            file,
            samples: writeSamples(fs, file, rng, rng.int(0, 6)),
            preserved: rng.int(0, 3) > 0,
          });
        }
        let token = 1;
        for (const f of files) if (f.preserved) h.preserve(token++, f.file);
        const kept = files.filter((f) => f.preserved);
        const sums = kept.map((f) => checksum(fs, f.file, f.samples));
        const audit = DataExtentAudit.capture(
          h.machine.memory,
          kept.flatMap((f) => f.file.runs),
        );

        const result = h.update();
        const next = result.kernel.driver(GuestmemfsDriver);
        kept.forEach((f, i) => {
          const back = result.restored<GuestmemFile>(i + 1);
          expect(back).not.toBe(f.file);
          expect(back.stat()).toEqual(f.file.stat());
          expect(back.runs).toEqual(f.file.runs);
          expect(checksum(next, back, f.samples)).toBe(sums[i]);
          expect(next.open(f.file.name)).toBe(back);
        });
        expect(audit.bytesChanged(h.machine.memory)).toBe(0);
        // Files that were not preserved are gone, and so is their data.
        expect(next.list().map((s) => s.name)).toEqual(kept.map((f) => f.file.name).sort());
        for (const f of files.filter((x) => !x.preserved && x.file.size > 0)) {
          expect(h.machine.memory.readU8(f.file.runs[0]!.phys)).toBe(POISON_BYTE);
        }
        // The region's free space is usable again, without touching the restored files.
        const free = next.fs.allocator.freeCount;
        if (free > 0) next.create("new", { size: free * EXTENT_SIZE });
        expect(audit.bytesChanged(h.machine.memory)).toBe(0);
      }),
      { numRuns: 8 },
    );
  });

  it("lets VMs and devices write through mappings during brownout and blackout; guards metadata changes", () => {
    // #region brownout
    const h = LiveUpdateHarness.boot({ from: buildV2, to: buildV2b, memory: MEMORY });
    const fs = h.driver(GuestmemfsDriver);
    const ram = fs.create("vm0-ram", { size: 8 * MiB });
    const loose = fs.create("scratch", { size: 2 * MiB }); // not preserved: never restricted
    const vm = fs.mmap(ram);
    h.preserve(1, ram);
    const refused = (fn: () => void) => expect(fn).toThrow(LuoOperationRefusedError);

    const result = h.update({
      brownout: () => {
        vm.write(0x1000, new TextEncoder().encode("written by the guest in brownout"));
        h.machine.memory.writeU32(vm.translate(3 * MiB), 0xd0a0d0a0); // a DMA engine, straight to RAM
        refused(() => fs.truncate(ram, 16 * MiB));
        refused(() => fs.unlink(ram));
        refused(() => fs.create("vm1-ram"));
        fs.addSeals(ram, F_SEAL_GROW | F_SEAL_SHRINK); // dirty: re-serialized at freeze
        fs.truncate(loose, 4 * MiB);
      },
      frozen: () => {
        refused(() => fs.addSeals(ram, F_SEAL_GROW));
        vm.write(0x2000, Uint8Array.of(0xb1, 0xac)); // the guest still runs until the kexec
      },
    });
    // #endregion brownout
    const next = result.kernel.driver(GuestmemfsDriver);
    const back = result.restored<GuestmemFile>(1);
    const mapping = next.mmap(back);
    expect(new TextDecoder().decode(mapping.read(0x1000, 32))).toBe("written by the guest in brownout");
    expect([...mapping.read(0x2000, 2)]).toEqual([0xb1, 0xac]);
    expect(result.kernel.machine.memory.readU32(mapping.translate(3 * MiB))).toBe(0xd0a0d0a0);
    expect(back.seals).toBe(F_SEAL_GROW | F_SEAL_SHRINK);
    expect(result.freeze.serializedAtFreeze).toBeGreaterThanOrEqual(1);
    expect(result.events.filter((e) => e.kind === "dirty")).toMatchObject([
      { driver: "guestmemfs", operation: "addSeals", token: 1n },
    ]);
    expect(() => vm.read(0, 1)).toThrow(/gone/); // the old kernel's mapping died with it
  });

  it("survives three consecutive updates with the same extents and bytes", () => {
    const h = LiveUpdateHarness.boot({ from: buildV2, to: buildV2b, memory: MEMORY });
    let fs = h.driver(GuestmemfsDriver);
    const rng = new Prng(3);
    let files = [
      fs.create("a", { size: 6 * MiB }),
      fs.create("b", { size: 3 * MiB }),
      fs.create("c", { size: 1 }),
    ];
    const samples = files.map((f) => writeSamples(fs, f, rng, 4));
    const sums = files.map((f, i) => checksum(fs, f, samples[i]!));
    const runs = files.map((f) => f.runs);
    const audit = DataExtentAudit.capture(h.machine.memory, runs.flat());
    for (let round = 1; round <= 3; round++) {
      files.forEach((f, i) => {
        h.preserve(i + 1, f);
      });
      const result = h.update({ to: round % 2 === 1 ? buildV2b : buildV2 });
      fs = result.kernel.driver(GuestmemfsDriver);
      files = files.map((_, i) => result.restored<GuestmemFile>(i + 1));
      result.finish();
      expect(files.map((f) => f.runs)).toEqual(runs);
      expect(files.map((f, i) => checksum(fs, f, samples[i]!))).toEqual(sums);
      expect(audit.bytesChanged(h.machine.memory)).toBe(0);
      expect(result.kernel.luo.phase).toBe("NORMAL");
    }
    expect(fs.create("d").ino).toBe(4); // inode numbers carried across every update
  });

  it("cancelled in brownout or blackout, leaves every file usable and unchanged", () => {
    for (const phase of ["PREPARED", "FROZEN"] as const) {
      const h = LiveUpdateHarness.boot({ from: buildV2, to: buildV2b, memory: MEMORY });
      const fs = h.driver(GuestmemfsDriver);
      const file = fs.create("vm", { size: 4 * MiB });
      const samples = writeSamples(fs, file, new Prng(9), 5);
      const sum = checksum(fs, file, samples);
      h.preserve(1, file);
      // KHO keeps its root FDT page once allocated and rewrites it at every finalize: leave it out.
      const root = h.kernel.kho.finalize().fdtPhys;
      h.kernel.kho.abort();
      const before = MemorySnapshot.take(h.kernel, { exclude: [{ base: root, size: PAGE_SIZE }] });
      h.kernel.kernel.kexecLoad(buildV2b);
      h.kernel.luo.prepare();
      const preserved = [...h.kernel.kho.outgoing.preservedFolios()].filter((f) => f.order === EXTENT_ORDER);
      expect(preserved.length).toBe(2);
      if (phase === "FROZEN") h.kernel.luo.freeze();
      expect(h.kernel.luo.phase).toBe(phase);
      h.kernel.luo.cancel(`cancel in ${phase}`);
      expect(h.kernel.luo.phase).toBe("NORMAL");
      expect(before.compare(h.kernel)).toEqual([]);
      expect(checksum(fs, file, samples)).toBe(sum);
      fs.truncate(file, 6 * MiB); // allowed again
      fs.truncate(file, 4 * MiB);
      const result = h.update();
      expect(
        checksum(result.kernel.driver(GuestmemfsDriver), result.restored<GuestmemFile>(1), samples),
      ).toBe(sum);
    }
  });
});

describe("guestmemfs version pairs", () => {
  it("crosses v1 → v2, v2 → v1 and v2 → v2 with the same extents", () => {
    for (const [from, to, version] of [
      [buildV1, buildV2, 1],
      [buildV2, buildV1, 1],
      [buildV2, buildV2b, 2],
    ] as const) {
      const h = LiveUpdateHarness.boot({ from, to, memory: MEMORY });
      const fs = h.driver(from === buildV1 ? withNative(GuestmemfsDriver, 1) : GuestmemfsDriver);
      const file = fs.create("vm", { size: 5 * MiB });
      const samples = writeSamples(fs, file, new Prng(5), 3);
      const sum = checksum(fs, file, samples);
      h.preserve(1, file);
      const result = h.update();
      const negotiated = result.prepare.negotiation.drivers.find((d) => d.driver === "guestmemfs");
      expect(negotiated).toMatchObject({ version, compatible: `guestmemfs-v${version}` });
      const next = result.kernel.driver(to === buildV1 ? withNative(GuestmemfsDriver, 1) : GuestmemfsDriver);
      const back = result.restored<GuestmemFile>(1);
      expect(back.runs).toEqual(file.runs);
      expect(back.stat()).toEqual({ ...file.stat(), seals: 0, flags: 0 });
      expect(checksum(next, back, samples)).toBe(sum);
    }
  });

  it("refuses to downgrade a sealed file to v1 before any freeze, unless the policy allows a lossy downgrade", () => {
    // #region downgrade
    const h = LiveUpdateHarness.boot({ from: buildV2, to: buildV1, memory: MEMORY });
    const fs = h.driver(GuestmemfsDriver);
    const file = fs.create("vm", { size: 2 * MiB });
    fs.addSeals(file, F_SEAL_GROW);
    h.preserve(1, file);
    const error = thrown(() => h.update());
    expect(error).toBeInstanceOf(LuoHookFailedError);
    expect((error as LuoHookFailedError).cause).toBeInstanceOf(SchemaDowngradeRefusedError);
    expect((error as LuoHookFailedError).cause).toMatchObject({ context: { path: "seals" } });
    expect(h.kernel.luo.phase).toBe("NORMAL"); // never frozen: the old kernel runs on
    expect(h.kernel.timeline.events.some((e) => e.kind === "phase" && e.to === "FROZEN")).toBe(false);
    fs.truncate(file, 2 * MiB);
    // #endregion downgrade

    const lossy = LiveUpdateHarness.boot({
      from: buildV2,
      to: buildV1,
      memory: MEMORY,
      luo: { allowLossy: ["guestmemfs"] },
    });
    const lfs = lossy.driver(GuestmemfsDriver);
    const sealed = lfs.create("vm", { size: 2 * MiB });
    lfs.addSeals(sealed, F_SEAL_GROW);
    lossy.preserve(1, sealed);
    const result = lossy.update();
    expect(result.restored<GuestmemFile>(1).stat()).toMatchObject({ seals: 0, flags: 0, size: 2 * MiB });
  });
});
