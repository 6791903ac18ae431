import { assertAbi } from "../../../common/errors.js";
import type { DmaFailure } from "../../pci/function.js";

/**
 * The copy-and-checksum DMA engine's programming interface, pinned in one place: identity, BAR 0
 * registers, the 32-byte descriptor and the 16-byte completion record (all little-endian). An
 * outside program that reads the ring and the data from a memory image can recompute every result.
 *
 * @module
 */

/** PCI vendor id (0x1b36: the id QEMU uses for its emulated devices). */
export const DMA_ENGINE_VENDOR_ID = 0x1b36;
/** PCI device id (made up for this emulation; no real device has it). */
export const DMA_ENGINE_DEVICE_ID = 0xd0a0;
/** Class code: base system peripheral, other (0x0880). */
export const DMA_ENGINE_CLASS = 0x088000;

/** BAR holding the registers (64-bit, 4 KiB). */
export const DMA_ENGINE_REG_BAR = 0;
/** BAR holding the MSI-X table (offset 0) and PBA (offset {@link DMA_ENGINE_PBA_OFFSET}). */
export const DMA_ENGINE_MSIX_BAR = 2;
/** Offset of the PBA in {@link DMA_ENGINE_MSIX_BAR}. */
export const DMA_ENGINE_PBA_OFFSET = 0x800;
/** MSI-X vector (table entry) of completion interrupts. */
export const DMA_ENGINE_VECTOR_COMPLETION = 0;

/** Register offsets in BAR 0 (32-bit registers). */
export const REG = Object.freeze({
  /** RO: {@link DMA_ENGINE_MAGIC}. */
  ID: 0x00,
  /** RO: interface version (1). */
  VERSION: 0x04,
  /** RW while disabled: descriptor ring IOVA, low dword (32-byte aligned). */
  RING_BASE_LO: 0x08,
  /** RW while disabled: descriptor ring IOVA, high dword. */
  RING_BASE_HI: 0x0c,
  /** RW while disabled: ring entries, a power of two from 1 to 65536. */
  RING_SIZE: 0x10,
  /** RW: {@link CONTROL_ENABLE}. */
  CONTROL: 0x14,
  /** RW while disabled, RO while enabled: index of the next descriptor the engine processes. */
  HEAD: 0x18,
  /** RW (the doorbell): index after the last descriptor software posted. */
  TAIL: 0x1c,
  /** RO: {@link STATUS_BUSY}, {@link STATUS_HALTED}, halt reason in bits 15:8. */
  STATUS: 0x20,
  /** RW: raise the completion vector after this many completions (0: only on flagged ones). */
  IRQ_BATCH: 0x24,
  /** RO: descriptors completed since power-on or FLR (mod 2^32). */
  COMPLETED: 0x28,
  /** RW: {@link PASID_ENABLE} and the PASID (bits 19:0) the engine tags its requests with. */
  PASID: 0x2c,
});

/** The value of the ID register: ASCII "DMAE", little-endian. */
export const DMA_ENGINE_MAGIC = 0x45414d44;
/** CONTROL bit 0: the engine processes descriptors. Enabling validates the ring and clears a halt. */
export const CONTROL_ENABLE = 0x1;
/** STATUS bit 0: descriptors are posted (HEAD != TAIL) or one is in flight. */
export const STATUS_BUSY = 0x1;
/** STATUS bit 1: halted (descriptor fetch fault or invalid ring); reason code in bits 15:8. */
export const STATUS_HALTED = 0x2;
/** Halt reason: RING_BASE unaligned or RING_SIZE not a power of two in range. */
export const HALT_BAD_RING = 0x80;
/** PASID register bit 31: tag requests with the PASID in bits 19:0. */
export const PASID_ENABLE = 0x8000_0000;

/** Descriptor field offsets. */
export const DESC = Object.freeze({
  /** u64: source IOVA. */
  SRC: 0,
  /** u64: destination IOVA. */
  DST: 8,
  /** u64: IOVA of the 16-byte completion record. */
  COMPLETION: 16,
  /** u32: bytes to copy (0 completes at once). */
  LENGTH: 24,
  /** u16: {@link OP_COPY} or {@link OP_COPY_CRC32}. */
  OPCODE: 28,
  /** u16: {@link FLAG_INTERRUPT}. */
  FLAGS: 30,
});
/** Bytes per descriptor. */
export const DESCRIPTOR_SIZE = 32;
/** Opcode: copy. */
export const OP_COPY = 0;
/** Opcode: copy and compute the CRC32 (IEEE 802.3, as zlib's `crc32`) of the bytes copied. */
export const OP_COPY_CRC32 = 1;
/** Descriptor flag: raise the completion vector when this descriptor completes. */
export const FLAG_INTERRUPT = 0x1;

/** Completion record field offsets. */
export const CMPL = Object.freeze({
  /** u8: {@link COMPLETION_STATUS}. Software zeroes it before posting. */
  STATUS: 0,
  /** u8: fault code ({@link faultCode}); 0 on success. */
  FAULT: 1,
  /** u32: CRC32 of the bytes copied (0 for {@link OP_COPY}). */
  CRC: 4,
  /** u32: bytes copied before completion (all of them on success). */
  BYTES: 8,
  /** u32: completion sequence number since power-on or FLR, from 1 (mod 2^32). */
  SEQUENCE: 12,
});
/** Bytes per completion record. */
export const COMPLETION_SIZE = 16;

/** Completion status codes. */
export const COMPLETION_STATUS = Object.freeze({
  /** Not written yet (what software zeroes the record to). */
  NONE: 0,
  /** Every byte copied. */
  SUCCESS: 1,
  /** A source read faulted (or hit no memory); `BYTES` were copied. */
  SRC_FAULT: 2,
  /** A destination write faulted (or hit no memory); `BYTES` were copied. */
  DST_FAULT: 3,
  /** Unknown opcode; nothing copied. */
  BAD_DESCRIPTOR: 4,
});

/** Fault codes in completion records and halt reasons: index in this list plus one. */
export const FAULT_CODES: readonly DmaFailure[] = Object.freeze([
  "context-not-present",
  "pasid-not-present",
  "page-not-present",
  "write-to-read-only",
  "reserved-bits",
  "address-beyond-width",
  "table-outside-memory",
  "table-loop",
  "bus-master-disabled",
  "not-memory",
]);

/** The code of a failure (1-based index in {@link FAULT_CODES}). */
export function faultCode(failure: DmaFailure): number {
  return FAULT_CODES.indexOf(failure) + 1;
}

/** A descriptor's fields. */
export interface DmaDescriptor {
  /** Source IOVA. */
  readonly src: number;
  /** Destination IOVA. */
  readonly dst: number;
  /** IOVA of the completion record. */
  readonly completion: number;
  /** Bytes to copy. */
  readonly length: number;
  /** {@link OP_COPY} or {@link OP_COPY_CRC32}. */
  readonly opcode: number;
  /** {@link FLAG_INTERRUPT} or 0. */
  readonly flags: number;
}

/** A completion record's fields. */
export interface DmaCompletion {
  /** A {@link COMPLETION_STATUS} value. */
  readonly status: number;
  /** Fault code ({@link faultCode}); 0 on success. */
  readonly fault: number;
  /** CRC32 of the bytes copied (0 for {@link OP_COPY}). */
  readonly crc: number;
  /** Bytes copied. */
  readonly bytes: number;
  /** Completion sequence number. */
  readonly sequence: number;
}

/** Encodes a descriptor (what a driver writes into the ring). */
export function encodeDescriptor(d: DmaDescriptor): Uint8Array {
  const bytes = new Uint8Array(DESCRIPTOR_SIZE);
  const v = new DataView(bytes.buffer);
  setU64(v, DESC.SRC, d.src);
  setU64(v, DESC.DST, d.dst);
  setU64(v, DESC.COMPLETION, d.completion);
  v.setUint32(DESC.LENGTH, d.length, true);
  v.setUint16(DESC.OPCODE, d.opcode, true);
  v.setUint16(DESC.FLAGS, d.flags, true);
  return bytes;
}

/** Decodes a descriptor from its 32 bytes. */
export function decodeDescriptor(v: DataView): DmaDescriptor {
  return {
    src: getU64(v, DESC.SRC),
    dst: getU64(v, DESC.DST),
    completion: getU64(v, DESC.COMPLETION),
    length: v.getUint32(DESC.LENGTH, true),
    opcode: v.getUint16(DESC.OPCODE, true),
    flags: v.getUint16(DESC.FLAGS, true),
  };
}

/** Encodes a completion record (what the engine writes). */
export function encodeCompletion(c: DmaCompletion): Uint8Array {
  const bytes = new Uint8Array(COMPLETION_SIZE);
  const v = new DataView(bytes.buffer);
  v.setUint8(CMPL.STATUS, c.status);
  v.setUint8(CMPL.FAULT, c.fault);
  v.setUint32(CMPL.CRC, c.crc >>> 0, true);
  v.setUint32(CMPL.BYTES, c.bytes, true);
  v.setUint32(CMPL.SEQUENCE, c.sequence >>> 0, true);
  return bytes;
}

/** Decodes a completion record from its 16 bytes (what a driver or an outside checker reads). */
export function decodeCompletion(bytes: Uint8Array): DmaCompletion {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    status: v.getUint8(CMPL.STATUS),
    fault: v.getUint8(CMPL.FAULT),
    crc: v.getUint32(CMPL.CRC, true),
    bytes: v.getUint32(CMPL.BYTES, true),
    sequence: v.getUint32(CMPL.SEQUENCE, true),
  };
}

/** IOVAs are safe integers: u64 fields are read and written as two u32 halves. */
function getU64(v: DataView, offset: number): number {
  return v.getUint32(offset, true) + v.getUint32(offset + 4, true) * 2 ** 32;
}

function setU64(v: DataView, offset: number, value: number): void {
  v.setUint32(offset, value % 2 ** 32, true);
  v.setUint32(offset + 4, Math.floor(value / 2 ** 32), true);
}

assertAbi("dma-engine", [
  ["sizeof(descriptor)", DESC.FLAGS + 2, DESCRIPTOR_SIZE],
  ["sizeof(completion)", CMPL.SEQUENCE + 4, COMPLETION_SIZE],
  ["offsetof(descriptor, length)", DESC.COMPLETION + 8, DESC.LENGTH],
  ["offsetof(completion, crc)", CMPL.FAULT + 3, CMPL.CRC],
  ["registers end", REG.PASID + 4, 0x30],
]);
