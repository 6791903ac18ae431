import type { PhysAddr } from "../hw/units.js";

/**
 * What the outgoing kernel passes to the next one besides memory: the x86 `struct kho_data`
 * (setup_data type `SETUP_KEXEC_KHO` = 10), four packed u64 fields. `scratchAddr` points at an
 * array of `struct kho_scratch { u64 addr; u64 size; }` and `scratchSize` is its length in bytes
 * (16 × number of areas).
 */
export interface BootData {
  /** Physical address of the root KHO FDT. */
  readonly fdtAddr: PhysAddr;
  /** Size passed for the FDT (x86 always passes one page). */
  readonly fdtSize: number;
  /** Physical address of the `kho_scratch` array. */
  readonly scratchAddr: PhysAddr;
  /** Byte length of the `kho_scratch` array. */
  readonly scratchSize: number;
}

/** x86 setup_data type of the KHO boot data. */
export const SETUP_KEXEC_KHO = 10;
/** `sizeof(struct kho_data)`. */
export const KHO_DATA_SIZE = 32;

/** Encodes boot data as the packed little-endian `struct kho_data`. */
export function encodeBootData(data: BootData): Uint8Array {
  const bytes = new Uint8Array(KHO_DATA_SIZE);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(data.fdtAddr), true);
  view.setBigUint64(8, BigInt(data.fdtSize), true);
  view.setBigUint64(16, BigInt(data.scratchAddr), true);
  view.setBigUint64(24, BigInt(data.scratchSize), true);
  return bytes;
}
