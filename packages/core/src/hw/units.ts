/** Size of a base page in bytes (x86-64 and most arm64 configurations). */
export const PAGE_SIZE = 4096;
/** log2 of {@link PAGE_SIZE}. */
export const PAGE_SHIFT = 12;
/** One kibibyte. */
export const KiB = 1024;
/** One mebibyte. */
export const MiB = 1024 * KiB;
/** One gibibyte. */
export const GiB = 1024 * MiB;
/** One tebibyte. */
export const TiB = 1024 * GiB;

/**
 * Physical addresses are plain JavaScript numbers throughout the SDK: safe integers (< 2^53, i.e.
 * 8 PiB), which covers every machine we emulate and keeps hot paths free of `bigint`. Values that
 * are u64 on the wire (handover fields) are converted at the format boundary and range-checked.
 */
export type PhysAddr = number;

/** A half-open physical range `[base, base + size)`. */
export interface PhysRange {
  /** First byte of the range. */
  readonly base: PhysAddr;
  /** Length in bytes. */
  readonly size: number;
}

/** True when `value` is a multiple of `alignment` (a power of two or any positive integer). */
export function isAligned(value: number, alignment: number): boolean {
  return value % alignment === 0;
}

/** Rounds `value` up to a multiple of `alignment`. */
export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** Rounds `value` down to a multiple of `alignment`. */
export function alignDown(value: number, alignment: number): number {
  return Math.floor(value / alignment) * alignment;
}

/** Page frame number of a physical address. */
export function pfnOf(phys: PhysAddr): number {
  return Math.floor(phys / PAGE_SIZE);
}

/** Bytes covered by a folio of the given order (`PAGE_SIZE << order`). */
export function orderBytes(order: number): number {
  return PAGE_SIZE * 2 ** order;
}

/** Formats a byte count for humans: `64 GiB`, `2 MiB`, `4 KiB`, `512 B`. */
export function formatBytes(bytes: number): string {
  const units: Array<[number, string]> = [
    [TiB, "TiB"],
    [GiB, "GiB"],
    [MiB, "MiB"],
    [KiB, "KiB"],
  ];
  for (const [unit, name] of units) {
    if (bytes >= unit) {
      const value = bytes / unit;
      return `${Number.isInteger(value) ? value : value.toFixed(2)} ${name}`;
    }
  }
  return `${bytes} B`;
}
