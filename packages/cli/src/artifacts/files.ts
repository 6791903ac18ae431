/**
 * The files `--out DIR` writes and `liveupdate inspect DIR` reads: the handover as the next kernel
 * receives it. The memory image is sparse, file offset = physical address.
 */
export const ARTIFACT_FILES = {
  /** The root KHO FDT (`dtc -I dtb -O dts` reads it). */
  dtb: "handover.dtb",
  /** Sparse raw memory image. */
  image: "memory.img",
  /** The x86 `kho_data`: `fdt_addr`, `fdt_size`, `scratch_addr`, `scratch_size` (hex strings or numbers). */
  bootData: "boot-data.json",
  /** The machine: `memoryMap` as `[{ base, size, type }]` (hex strings); devices may add keys. */
  hardware: "hardware.json",
} as const;

/** One memory-map region as `hardware.json` stores it. */
export interface HardwareRegionJson {
  /** Base address, `0x…`. */
  readonly base: string;
  /** Size in bytes, `0x…`. */
  readonly size: string;
  /** `ram` or `reserved`. */
  readonly type: "ram" | "reserved";
}

/** `0x…` text of an address or size. */
export function hexa(n: number): string {
  return `0x${n.toString(16)}`;
}
