import { defineKernelBuild, type Prng } from "@liveupdate/core";
import { withNative } from "@liveupdate/core/testkit";
import { EXTENT_SIZE, type GuestmemFile, GuestmemfsDriver } from "../src/index.js";

/** Kernel builds shipping guestmemfs: native v2 (reads and writes v1 and v2), and an older v1-only build. */
export const buildV2 = defineKernelBuild({ version: "6.18.0-gmfs2", drivers: [GuestmemfsDriver] });
export const buildV2b = defineKernelBuild({ version: "6.18.1-gmfs2", drivers: [GuestmemfsDriver] });
export const buildV1 = defineKernelBuild({
  version: "6.17.0-gmfs1",
  drivers: [withNative(GuestmemfsDriver, 1)],
});
/** RAM of the test machines (sparse: only written sections cost host memory). */
export const MEMORY = "512M";

/** FNV-1a (32 bit) of some bytes. */
export function fnv(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const b of bytes) hash = Math.imul(hash ^ b, 0x01000193) >>> 0;
  return hash;
}

/** One sample written into a file: offset and bytes. */
export interface Sample {
  readonly offset: number;
  readonly bytes: Uint8Array;
}

/** Writes `count` random samples (up to 64 bytes, anywhere in the file) through a mapping. */
export function writeSamples(
  driver: GuestmemfsDriver,
  file: GuestmemFile,
  rng: Prng,
  count: number,
): Sample[] {
  if (file.size === 0) return [];
  const mapping = driver.mmap(file);
  const samples: Sample[] = [];
  for (let i = 0; i < count; i++) {
    const length = Math.min(rng.int(1, 64), file.size);
    const offset = rng.int(0, file.size - length);
    const bytes = Uint8Array.from({ length }, () => rng.int(0, 255));
    mapping.write(offset, bytes);
    samples.push({ offset, bytes });
  }
  mapping.unmap();
  return samples;
}

/** Checksum of a file's sampled ranges as read through a fresh mapping (later samples win, as writes do). */
export function checksum(driver: GuestmemfsDriver, file: GuestmemFile, samples: readonly Sample[]): number {
  if (samples.length === 0) return 0;
  const mapping = driver.mmap(file, { write: false });
  const parts = samples.map((s) => mapping.read(s.offset, s.bytes.length));
  mapping.unmap();
  return fnv(Uint8Array.from(parts.flatMap((p) => [...p])));
}

/** A size in bytes of up to `extents` extents, sometimes not a multiple of 2 MiB. */
export function randomSize(rng: Prng, extents: number): number {
  const whole = rng.int(0, extents);
  return whole === 0
    ? rng.int(0, 1) * rng.int(1, EXTENT_SIZE)
    : whole * EXTENT_SIZE - rng.int(0, 1) * rng.int(0, 4095);
}

/** What `fn` throws (undefined when it returns). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}
