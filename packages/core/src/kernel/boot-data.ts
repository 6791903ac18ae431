import type { PhysicalMemory } from "../hw/physical-memory.js";
import type { PhysAddr } from "../hw/units.js";
import { BootDataError } from "./errors.js";

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

/** `struct setup_data { u64 next; u32 type; u32 len; u8 data[]; }` (x86 boot protocol). */
export const SETUP_DATA_HEADER = { next: 0, type: 8, len: 12, size: 16 } as const;

/** Writes a `setup_data` node of type {@link SETUP_KEXEC_KHO} holding `struct kho_data` at `phys`. */
export function writeSetupData(memory: PhysicalMemory, phys: PhysAddr, data: BootData): void {
  memory.writeU64(phys + SETUP_DATA_HEADER.next, 0n);
  memory.writeU32(phys + SETUP_DATA_HEADER.type, SETUP_KEXEC_KHO);
  memory.writeU32(phys + SETUP_DATA_HEADER.len, KHO_DATA_SIZE);
  memory.write(phys + SETUP_DATA_HEADER.size, encodeBootData(data));
}

/**
 * Reads the KHO boot data from the `setup_data` node at `phys`, as the next kernel's
 * `parse_setup_data` does: type and length must match, values must be addresses we can use.
 *
 * @throws {@link BootDataError} naming the field.
 */
export function readSetupData(memory: PhysicalMemory, phys: PhysAddr): BootData {
  const type = memory.readU32(phys + SETUP_DATA_HEADER.type);
  if (type !== SETUP_KEXEC_KHO)
    throw new BootDataError("type", type, `expected SETUP_KEXEC_KHO (${SETUP_KEXEC_KHO})`);
  const len = memory.readU32(phys + SETUP_DATA_HEADER.len);
  if (len !== KHO_DATA_SIZE)
    throw new BootDataError("len", len, `expected sizeof(struct kho_data) = ${KHO_DATA_SIZE}`);
  const view = new DataView(memory.read(phys + SETUP_DATA_HEADER.size, KHO_DATA_SIZE).buffer);
  const field = (offset: number, name: string): number => {
    const value = view.getBigUint64(offset, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new BootDataError(name, value, "beyond 2^53");
    return Number(value);
  };
  return {
    fdtAddr: field(0, "fdt_addr"),
    fdtSize: field(8, "fdt_size"),
    scratchAddr: field(16, "scratch_addr"),
    scratchSize: field(24, "scratch_size"),
  };
}
