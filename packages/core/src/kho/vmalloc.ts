import type { PhysAddr } from "../hw/units.js";
import { KHO_VMALLOC } from "./abi.js";

/**
 * A preserved vmalloc area's descriptor (`struct kho_vmalloc`, 16 bytes): the caller stores it in
 * its own handover data (typically an FDT property) and gives it back to `restoreVmalloc`.
 */
export interface KhoVmallocDescriptor {
  /** Physical address of the first `kho_vmalloc_chunk`. */
  readonly first: PhysAddr;
  /** Number of base pages in the area. */
  readonly totalPages: number;
  /** `KHO_VMALLOC_*` flags. */
  readonly flags: number;
  /** Order of every block listed (0 unless huge-mapped). */
  readonly order: number;
}

/** A restored vmalloc area: its blocks in virtual order. */
export interface VmallocArea {
  /** Physical address of each block of `2^order` pages, in the area's virtual order. */
  readonly blocks: readonly PhysAddr[];
  /** Block order. */
  readonly order: number;
  /** Number of base pages. */
  readonly totalPages: number;
}

/** Encodes a descriptor as the 16-byte little-endian `struct kho_vmalloc`. */
export function encodeVmallocDescriptor(descriptor: KhoVmallocDescriptor): Uint8Array {
  const bytes = new Uint8Array(KHO_VMALLOC.sizeof);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(KHO_VMALLOC.first, BigInt(descriptor.first), true);
  view.setUint32(KHO_VMALLOC.totalPages, descriptor.totalPages, true);
  view.setUint16(KHO_VMALLOC.flags, descriptor.flags, true);
  view.setUint16(KHO_VMALLOC.order, descriptor.order, true);
  return bytes;
}

/**
 * Decodes a 16-byte `struct kho_vmalloc`. Field values are not validated here (restore does);
 * returns undefined when the buffer has the wrong size or `first` exceeds 2^53.
 */
export function decodeVmallocDescriptor(bytes: Uint8Array): KhoVmallocDescriptor | undefined {
  if (bytes.length !== KHO_VMALLOC.sizeof) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const first = view.getBigUint64(KHO_VMALLOC.first, true);
  if (first > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return {
    first: Number(first),
    totalPages: view.getUint32(KHO_VMALLOC.totalPages, true),
    flags: view.getUint16(KHO_VMALLOC.flags, true),
    order: view.getUint16(KHO_VMALLOC.order, true),
  };
}
