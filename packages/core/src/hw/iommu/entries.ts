/**
 * Pure encoders and decoders of the VT-d scalable-mode structures, bit-exact: root entries,
 * context entries, PASID directory and table entries, second-stage and first-stage (IA-32e)
 * paging entries. Drivers build their tables in physical memory with these; the hardware walker
 * reads the same bits. Each entry is a tuple of little-endian qwords (`bigint`), written with
 * {@link writeQwords}.
 *
 * @module
 */
import type { PhysicalMemory } from "../physical-memory.js";
import type { PhysAddr } from "../units.js";
import {
  VTD_AW_48,
  VTD_CONTEXT,
  VTD_FS_PTE,
  VTD_HOST_ADDRESS_WIDTH,
  VTD_PASID_DIR,
  VTD_PASID_ENTRY,
  VTD_PGTT,
  VTD_ROOT_ENTRY,
  VTD_SS_PTE,
} from "./abi.js";
import { VtdEncodeError } from "./errors.js";

/** Bits 63:12 of a qword: a 4 KiB-aligned pointer. */
const ADDRESS_MASK = 0xffff_ffff_ffff_f000n;
/** Bits 51:12: the address field of a paging entry. */
const PTE_ADDRESS_MASK = 0x000f_ffff_ffff_f000n;

/** Sets bit `n` when `on`. */
function bit(n: number, on: boolean | undefined): bigint {
  return on === true ? 1n << BigInt(n) : 0n;
}

/** True when bit `n` of `q` is set. */
function has(q: bigint, n: number): boolean {
  return ((q >> BigInt(n)) & 1n) === 1n;
}

/** A 4 KiB-aligned host-physical pointer below the host address width, as a qword field. */
function pointer(structure: string, field: string, value: PhysAddr): bigint {
  if (!Number.isSafeInteger(value) || value < 0 || value % 4096 !== 0) {
    throw new VtdEncodeError(structure, field, value, "is not a 4 KiB-aligned address");
  }
  if (value >= 2 ** VTD_HOST_ADDRESS_WIDTH) {
    throw new VtdEncodeError(
      structure,
      field,
      value,
      `is beyond the ${VTD_HOST_ADDRESS_WIDTH}-bit host width`,
    );
  }
  return BigInt(value);
}

/** An unsigned integer field of `bits` bits. */
function field(structure: string, name: string, value: number, bits: number): bigint {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new VtdEncodeError(structure, name, value, `does not fit ${bits} bits`);
  }
  return BigInt(value);
}

/** Writes qwords at consecutive 8-byte offsets from `phys` (little-endian). */
export function writeQwords(memory: PhysicalMemory, phys: PhysAddr, qwords: readonly bigint[]): void {
  for (let i = 0; i < qwords.length; i++) memory.writeU64(phys + 8 * i, qwords[i]!);
}

/** Reads `count` consecutive qwords from `phys`. */
export function readQwords(memory: PhysicalMemory, phys: PhysAddr, count: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < count; i++) out.push(memory.readU64(phys + 8 * i));
  return out;
}

// ---- root entry ----------------------------------------------------------------------------------

/**
 * A scalable-mode root entry (one per bus): the context tables for devfn 0..127 (lower) and
 * 128..255 (upper). An absent table is a clear LP/UP bit.
 */
export interface VtdRootEntry {
  /** Host-physical address of the lower context table, or undefined (LP = 0). */
  readonly lowerContextTable: PhysAddr | undefined;
  /** Host-physical address of the upper context table, or undefined (UP = 0). */
  readonly upperContextTable: PhysAddr | undefined;
}

/** Encodes a root entry as `[lower qword, upper qword]`. */
export function encodeRootEntry(entry: VtdRootEntry): readonly [bigint, bigint] {
  const half = (name: string, table: PhysAddr | undefined): bigint =>
    table === undefined ? 0n : pointer("root-entry", name, table) | (1n << BigInt(VTD_ROOT_ENTRY.PRESENT));
  return [
    half("lowerContextTable", entry.lowerContextTable),
    half("upperContextTable", entry.upperContextTable),
  ];
}

/** Decodes a root entry from its two qwords (reserved bits are ignored here; the walker checks them). */
export function decodeRootEntry(lower: bigint, upper: bigint): VtdRootEntry {
  const half = (q: bigint): PhysAddr | undefined =>
    has(q, VTD_ROOT_ENTRY.PRESENT) ? Number(q & ADDRESS_MASK) : undefined;
  return { lowerContextTable: half(lower), upperContextTable: half(upper) };
}

// ---- context entry -------------------------------------------------------------------------------

/** A scalable-mode context entry (one per devfn): where the device's PASID directory is. */
export interface VtdContextEntry {
  /** Present (P). */
  readonly present: boolean;
  /** Host-physical address of the PASID directory. */
  readonly pasidDirectory: PhysAddr;
  /** PDTS: the directory has 2^(PDTS + 7) entries (0..7); covers PASIDs below 2^(PDTS + 13). */
  readonly pasidDirectorySize: number;
  /** RID_PASID: the PASID used for requests without a PASID prefix. */
  readonly ridPasid: number;
  /** PASIDE: requests with a PASID prefix are allowed. */
  readonly pasidEnable: boolean;
  /** FPD: faults of this device are not recorded in the fault recording registers. */
  readonly faultProcessingDisable?: boolean;
}

/** Encodes a context entry as its four qwords (qwords 2 and 3 are reserved, zero). */
export function encodeContextEntry(entry: VtdContextEntry): readonly [bigint, bigint, bigint, bigint] {
  const q0 =
    pointer("context-entry", "pasidDirectory", entry.pasidDirectory) |
    (field("context-entry", "pasidDirectorySize", entry.pasidDirectorySize, 3) <<
      BigInt(VTD_CONTEXT.PDTS_SHIFT)) |
    bit(VTD_CONTEXT.PASIDE, entry.pasidEnable) |
    bit(VTD_CONTEXT.FPD, entry.faultProcessingDisable) |
    bit(VTD_CONTEXT.PRESENT, entry.present);
  const q1 = field("context-entry", "ridPasid", entry.ridPasid, 20);
  return [q0, q1, 0n, 0n];
}

/** Decodes a context entry from its first two qwords. */
export function decodeContextEntry(q0: bigint, q1: bigint): VtdContextEntry {
  return {
    present: has(q0, VTD_CONTEXT.PRESENT),
    pasidDirectory: Number(q0 & ADDRESS_MASK),
    pasidDirectorySize: Number((q0 >> BigInt(VTD_CONTEXT.PDTS_SHIFT)) & 7n),
    ridPasid: Number(q1 & BigInt(VTD_CONTEXT.RID_PASID_MASK)),
    pasidEnable: has(q0, VTD_CONTEXT.PASIDE),
    faultProcessingDisable: has(q0, VTD_CONTEXT.FPD),
  };
}

// ---- PASID directory entry -----------------------------------------------------------------------

/** A PASID directory entry: one PASID table page for 64 PASIDs (PASID bits 19:6 index the directory). */
export interface VtdPasidDirEntry {
  /** Present (P). */
  readonly present: boolean;
  /** Host-physical address of the PASID table page. */
  readonly pasidTable: PhysAddr;
  /** FPD: faults through this entry are not recorded. */
  readonly faultProcessingDisable?: boolean;
}

/** Encodes a PASID directory entry. */
export function encodePasidDirEntry(entry: VtdPasidDirEntry): bigint {
  return (
    pointer("pasid-directory-entry", "pasidTable", entry.pasidTable) |
    bit(VTD_PASID_DIR.FPD, entry.faultProcessingDisable) |
    bit(VTD_PASID_DIR.PRESENT, entry.present)
  );
}

/** Decodes a PASID directory entry. */
export function decodePasidDirEntry(q: bigint): VtdPasidDirEntry {
  return {
    present: has(q, VTD_PASID_DIR.PRESENT),
    pasidTable: Number(q & ADDRESS_MASK),
    faultProcessingDisable: has(q, VTD_PASID_DIR.FPD),
  };
}

// ---- PASID table entry ---------------------------------------------------------------------------

/** PASID granular translation type (PGTT). */
export type VtdTranslationType = "first-stage" | "second-stage" | "nested" | "pass-through";

const PGTT_BY_TYPE: Record<VtdTranslationType, number> = {
  "first-stage": VTD_PGTT.FIRST_STAGE,
  "second-stage": VTD_PGTT.SECOND_STAGE,
  nested: VTD_PGTT.NESTED,
  "pass-through": VTD_PGTT.PASS_THROUGH,
};

/** The translation type of a PGTT value, or undefined for a reserved encoding. */
export function translationTypeOf(pgtt: number): VtdTranslationType | undefined {
  for (const [type, value] of Object.entries(PGTT_BY_TYPE))
    if (value === pgtt) return type as VtdTranslationType;
  return undefined;
}

/**
 * A scalable-mode PASID table entry (64 bytes): how one address space (PASID) of a device is
 * translated, and its domain id (the IOTLB tag).
 */
export interface VtdPasidEntry {
  /** Present (P). */
  readonly present: boolean;
  /** PGTT. */
  readonly type: VtdTranslationType;
  /** Domain id (DID), 16 bits. */
  readonly domainId: number;
  /** Host-physical address of the 4-level second-stage table (second-stage and nested). */
  readonly secondStageTable?: PhysAddr;
  /**
   * Address of the 4-level first-stage table (first-stage: host-physical; nested:
   * guest-physical, translated by the second stage).
   */
  readonly firstStageTable?: PhysAddr;
  /** FPD: faults through this entry are not recorded. */
  readonly faultProcessingDisable?: boolean;
  /** NXE: first-stage XD bits are valid (else bit 63 of a first-stage entry is reserved). */
  readonly noExecuteEnable?: boolean;
  /** WPE: write protect enable (recorded; requests are supervisor, see docs). */
  readonly writeProtectEnable?: boolean;
}

/**
 * Encodes a PASID table entry as its eight qwords. AW is 010b (48-bit, 4-level) for the
 * second-stage pointer and FLPM 00b (4-level) for the first-stage pointer.
 */
export function encodePasidEntry(entry: VtdPasidEntry): readonly bigint[] {
  const pgtt = PGTT_BY_TYPE[entry.type];
  if (pgtt === undefined) throw new VtdEncodeError("pasid-entry", "type", entry.type, "is not a PGTT");
  const needsSecond = entry.type === "second-stage" || entry.type === "nested";
  const needsFirst = entry.type === "first-stage" || entry.type === "nested";
  if (needsSecond && entry.secondStageTable === undefined) {
    throw new VtdEncodeError("pasid-entry", "secondStageTable", undefined, `is required for ${entry.type}`);
  }
  if (needsFirst && entry.firstStageTable === undefined) {
    throw new VtdEncodeError("pasid-entry", "firstStageTable", undefined, `is required for ${entry.type}`);
  }
  const q0 =
    (entry.secondStageTable === undefined
      ? 0n
      : pointer("pasid-entry", "secondStageTable", entry.secondStageTable)) |
    (BigInt(pgtt) << BigInt(VTD_PASID_ENTRY.PGTT_SHIFT)) |
    (needsSecond ? BigInt(VTD_AW_48) << BigInt(VTD_PASID_ENTRY.AW_SHIFT) : 0n) |
    bit(VTD_PASID_ENTRY.FPD, entry.faultProcessingDisable) |
    bit(VTD_PASID_ENTRY.PRESENT, entry.present);
  const q1 = field("pasid-entry", "domainId", entry.domainId, 16);
  const q2 =
    (entry.firstStageTable === undefined
      ? 0n
      : pointer("pasid-entry", "firstStageTable", entry.firstStageTable)) |
    bit(VTD_PASID_ENTRY.NXE, entry.noExecuteEnable) |
    bit(VTD_PASID_ENTRY.WPE, entry.writeProtectEnable);
  return [q0, q1, q2, 0n, 0n, 0n, 0n, 0n];
}

/**
 * Decodes a PASID table entry from its first three qwords.
 *
 * @returns the entry, with `type` undefined when PGTT holds a reserved encoding.
 */
export function decodePasidEntry(
  q0: bigint,
  q1: bigint,
  q2: bigint,
): Omit<VtdPasidEntry, "type"> & {
  readonly type: VtdTranslationType | undefined;
  readonly addressWidth: number;
} {
  const secondStage = Number(q0 & ADDRESS_MASK);
  const firstStage = Number(q2 & ADDRESS_MASK);
  return {
    present: has(q0, VTD_PASID_ENTRY.PRESENT),
    type: translationTypeOf(Number((q0 >> BigInt(VTD_PASID_ENTRY.PGTT_SHIFT)) & 7n)),
    domainId: Number(q1 & BigInt(VTD_PASID_ENTRY.DID_MASK)),
    secondStageTable: secondStage,
    firstStageTable: firstStage,
    addressWidth: Number((q0 >> BigInt(VTD_PASID_ENTRY.AW_SHIFT)) & 7n),
    faultProcessingDisable: has(q0, VTD_PASID_ENTRY.FPD),
    noExecuteEnable: has(q2, VTD_PASID_ENTRY.NXE),
    writeProtectEnable: has(q2, VTD_PASID_ENTRY.WPE),
  };
}

// ---- paging entries ------------------------------------------------------------------------------

/**
 * A second-stage paging entry. A table entry (levels 4..2, `largePage` false) points to the next
 * table; a leaf maps a 4 KiB page (level 1), a 2 MiB page (level 2, `largePage`) or a 1 GiB page
 * (level 3, `largePage`). Permissions are ANDed across the levels of a walk; an entry with neither
 * R nor W is not present.
 */
export interface VtdSecondStageEntry {
  /** Host-physical address of the next table or of the page (aligned to the page size). */
  readonly address: PhysAddr;
  /** R. */
  readonly read: boolean;
  /** W. */
  readonly write: boolean;
  /** PS: a 2 MiB or 1 GiB leaf (levels 2 and 3 only). */
  readonly largePage?: boolean;
}

/** Encodes a second-stage paging entry. */
export function encodeSecondStageEntry(entry: VtdSecondStageEntry): bigint {
  return (
    pointer("second-stage-entry", "address", entry.address) |
    bit(VTD_SS_PTE.PS, entry.largePage) |
    bit(VTD_SS_PTE.W, entry.write) |
    bit(VTD_SS_PTE.R, entry.read)
  );
}

/** Decodes a second-stage paging entry (the address field is bits 51:12). */
export function decodeSecondStageEntry(q: bigint): Required<VtdSecondStageEntry> {
  return {
    address: Number(q & PTE_ADDRESS_MASK),
    read: has(q, VTD_SS_PTE.R),
    write: has(q, VTD_SS_PTE.W),
    largePage: has(q, VTD_SS_PTE.PS),
  };
}

/**
 * A first-stage paging entry in the 4-level IA-32e format. In a nested PASID entry, `address` is
 * guest-physical. Writes need R/W at every level.
 */
export interface VtdFirstStageEntry {
  /** Address of the next table or of the page (host- or guest-physical, see above). */
  readonly address: PhysAddr;
  /** P. */
  readonly present: boolean;
  /** R/W. */
  readonly writable: boolean;
  /** U/S (recorded; not checked, see docs). */
  readonly user?: boolean;
  /** PS: a 2 MiB (level 2) or 1 GiB (level 3) leaf. */
  readonly largePage?: boolean;
  /** XD (valid only when the PASID entry sets NXE). */
  readonly executeDisable?: boolean;
}

/** Encodes a first-stage paging entry. */
export function encodeFirstStageEntry(entry: VtdFirstStageEntry): bigint {
  return (
    pointer("first-stage-entry", "address", entry.address) |
    bit(VTD_FS_PTE.XD, entry.executeDisable) |
    bit(VTD_FS_PTE.PS, entry.largePage) |
    bit(VTD_FS_PTE.US, entry.user) |
    bit(VTD_FS_PTE.RW, entry.writable) |
    bit(VTD_FS_PTE.P, entry.present)
  );
}

/** Decodes a first-stage paging entry. */
export function decodeFirstStageEntry(q: bigint): Required<VtdFirstStageEntry> {
  return {
    address: Number(q & PTE_ADDRESS_MASK),
    present: has(q, VTD_FS_PTE.P),
    writable: has(q, VTD_FS_PTE.RW),
    user: has(q, VTD_FS_PTE.US),
    largePage: has(q, VTD_FS_PTE.PS),
    executeDisable: has(q, VTD_FS_PTE.XD),
  };
}

/**
 * The index into the level-`level` table (4 = top) of a 48-bit input address: bits
 * `12 + 9 * (level - 1)` and up, 9 bits.
 */
export function tableIndex(address: number, level: number): number {
  return Math.floor(address / 2 ** (12 + 9 * (level - 1))) % 512;
}

/** Bytes mapped by one entry at `level` (1: 4 KiB, 2: 2 MiB, 3: 1 GiB, 4: 512 GiB). */
export function levelSpan(level: number): number {
  return 2 ** (12 + 9 * (level - 1));
}
