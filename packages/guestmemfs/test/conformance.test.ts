import {
  assertDriverConformance,
  CONFORMANCE_CHECKS,
  type ConformanceOptions,
  withNative,
} from "@liveupdate/core/testkit";
import { describe, expect, it } from "vitest";
import {
  F_SEAL_GROW,
  F_SEAL_SHRINK,
  GUESTMEMFS_FLAG_NO_SEALING,
  type GuestmemFile,
  GuestmemfsDriver,
  type GuestmemStat,
} from "../src/index.js";
import { checksum, randomSize, type Sample, writeSamples } from "./helpers.js";

/** What a VM could observe of a file: its stat and the bytes it wrote. */
interface FileSnapshot {
  readonly stat: GuestmemStat;
  readonly sum: number;
}

const samples = new WeakMap<GuestmemFile, Sample[]>();

// #region options
/** The conformance options of guestmemfs: what only its author knows. */
const guestmemfsConformance: ConformanceOptions<GuestmemfsDriver, GuestmemFile, FileSnapshot> = {
  // A file of 0..4 extents with a few bytes written through a mapping; sometimes sealed (a v1
  // kernel then refuses it), rarely unsealable (also v2 only).
  createObject: (_lk, rng, driver) => {
    const flags = rng.int(0, 7) === 0 ? GUESTMEMFS_FLAG_NO_SEALING : 0;
    const file = driver.create(`vm-${driver.fs.nextIno}`, { size: randomSize(rng, 4), flags });
    samples.set(file, writeSamples(driver, file, rng, rng.int(0, 4)));
    if (flags === 0 && rng.int(0, 3) === 0) driver.addSeals(file, F_SEAL_GROW);
    return file;
  },
  snapshot: (file, _lk, driver) => ({
    stat: driver.stat(file),
    sum: checksum(driver, file, samples.get(file)!),
  }),
  // The restored file has the same inode, extents and bytes.
  assertRestored: (original, restored, ctx) => {
    const sum = checksum(ctx.driver, restored, samples.get(original) ?? []);
    const stat = ctx.driver.stat(restored);
    const expected = ctx.snapshot!.stat;
    expect(restored.runs).toEqual(original.runs);
    expect(sum).toBe(ctx.snapshot!.sum);
    expect(stat).toEqual(ctx.writtenVersion === 1 ? { ...expected, seals: 0, flags: 0 } : expected);
  },
  // Dirty-tracked in brownout: adding a seal (an unsealable file refuses it, but the change was tracked).
  brownout: (file, _lk, driver) => {
    if (file.flags === 0) driver.addSeals(file, F_SEAL_SHRINK);
    else expect(() => driver.addSeals(file, F_SEAL_SHRINK)).toThrow(/sealing not allowed/);
  },
  peers: [withNative(GuestmemfsDriver, 1)],
};
// #endregion options

describe("guestmemfs conformance", () => {
  it("passes every check of the testkit's conformance suite", () => {
    const report = assertDriverConformance(GuestmemfsDriver, guestmemfsConformance);
    expect(report.checks.map((c) => [c.name, c.status])).toEqual(
      CONFORMANCE_CHECKS.map((name) => [name, "passed"]),
    );
    // v2 → a v1 build and back both crossed (sealed files are refused with a typed error, retried with others).
    const restored = report.pairs
      .filter((p) => p.outcome === "restored")
      .map((p) => [p.writer, p.reader, p.version]);
    expect(restored).toEqual(
      expect.arrayContaining([
        ["GuestmemfsDriver", "GuestmemfsDriver[native v1]", 1],
        ["GuestmemfsDriver[native v1]", "GuestmemfsDriver", 1],
      ]),
    );
  });
});
