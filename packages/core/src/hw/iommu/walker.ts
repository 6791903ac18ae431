/**
 * The hardware table walk: reads the scalable-mode structures from physical memory exactly as a
 * VT-d unit does — root entry, context entry, PASID directory and table entries, then the
 * second-stage and/or first-stage paging structures. Invalid tables are input: every problem is a
 * {@link WalkFault} with its reason, never an exception, and every walk is bounded (4 levels per
 * stage, a table page visited twice is a loop).
 *
 * Qwords are read as two u32 halves: no `bigint` on the walk.
 *
 * @module
 */
import type { DmaFaultReason } from "../dma.js";
import type { PhysicalMemory } from "../physical-memory.js";
import type { PhysAddr } from "../units.js";
import {
  VTD_FAULT_REASON as FR,
  VTD_ADDRESS_WIDTH,
  VTD_AW_48,
  VTD_CONTEXT_ENTRY_SIZE,
  VTD_HOST_ADDRESS_WIDTH,
  VTD_LEVELS,
  VTD_PASID_DIR_ENTRY_SIZE,
  VTD_PASID_ENTRY_SIZE,
  VTD_PGTT,
  VTD_ROOT_ENTRY_SIZE,
} from "./abi.js";

/** Why a walk stopped: the {@link DmaFaultReason} and the architectural fault reason code (FR). */
export class WalkFault {
  /**
   * @param reason - the DMA fault reason reported to the device.
   * @param code - the FR value written to a fault recording register.
   */
  constructor(
    readonly reason: DmaFaultReason,
    readonly code: number,
  ) {
    Object.freeze(this);
  }
}

const fault = (reason: DmaFaultReason, code: number): WalkFault => new WalkFault(reason, code);

/** Every fault a walk can end with (shared instances: a fault allocates nothing). */
export const WALK_FAULTS = {
  invalidTtm: fault("reserved-bits", FR.INVALID_TTM),
  rootAccess: fault("table-outside-memory", FR.ROOT_ACCESS),
  rootNotPresent: fault("context-not-present", FR.ROOT_NOT_PRESENT),
  rootReserved: fault("reserved-bits", FR.ROOT_RESERVED),
  contextAccess: fault("table-outside-memory", FR.CONTEXT_ACCESS),
  contextNotPresent: fault("context-not-present", FR.CONTEXT_NOT_PRESENT),
  contextReserved: fault("reserved-bits", FR.CONTEXT_RESERVED),
  pasidDisabled: fault("pasid-not-present", FR.PASID_DISABLED),
  pasidTooLarge: fault("pasid-not-present", FR.PASID_TOO_LARGE),
  pasidDirAccess: fault("table-outside-memory", FR.PASID_DIR_ACCESS),
  pasidDirNotPresent: fault("pasid-not-present", FR.PASID_DIR_NOT_PRESENT),
  pasidDirReserved: fault("reserved-bits", FR.PASID_DIR_RESERVED),
  pasidAccess: fault("table-outside-memory", FR.PASID_ACCESS),
  pasidNotPresent: fault("pasid-not-present", FR.PASID_NOT_PRESENT),
  pasidReserved: fault("reserved-bits", FR.PASID_RESERVED),
  pasidInvalid: fault("reserved-bits", FR.PASID_INVALID),
  fsAccess: fault("table-outside-memory", FR.FS_ACCESS),
  fsNotPresent: fault("page-not-present", FR.FS_NOT_PRESENT),
  fsReserved: fault("reserved-bits", FR.FS_RESERVED),
  fsLoop: fault("table-loop", FR.TABLE_LOOP),
  ssAccess: fault("table-outside-memory", FR.SS_ACCESS),
  ssNotPresentRead: fault("page-not-present", FR.NO_READ),
  ssNotPresentWrite: fault("page-not-present", FR.NO_WRITE),
  ssReserved: fault("reserved-bits", FR.SS_RESERVED),
  ssLoop: fault("table-loop", FR.TABLE_LOOP),
  nonCanonical: fault("address-beyond-width", FR.NON_CANONICAL),
  beyondWidth: fault("address-beyond-width", FR.BEYOND_WIDTH),
  noWrite: fault("write-to-read-only", FR.NO_WRITE),
  noRead: fault("read-not-permitted", FR.NO_READ),
} as const;

/** What the walker learnt from a context entry (cached by the context cache). */
export interface ContextInfo {
  /** Host-physical PASID directory. */
  readonly pasidDirectory: PhysAddr;
  /** Number of PASID directory entries (2^(PDTS + 7)). */
  readonly directoryEntries: number;
  /** RID_PASID. */
  readonly ridPasid: number;
  /** PASIDE. */
  readonly pasidEnable: boolean;
  /** FPD of the context entry. */
  readonly faultProcessingDisable: boolean;
}

/** What the walker learnt from a PASID directory + table entry (cached by the PASID cache). */
export interface PasidInfo {
  /** DID. */
  readonly domainId: number;
  /** PGTT value (1..4). */
  readonly pgtt: number;
  /** Host-physical second-stage table (second-stage, nested). */
  readonly secondStageTable: PhysAddr;
  /** First-stage table (host-physical for first-stage, guest-physical for nested). */
  readonly firstStageTable: PhysAddr;
  /** NXE: first-stage bit 63 is XD (else reserved). */
  readonly noExecuteEnable: boolean;
  /** FPD of the directory or table entry. */
  readonly faultProcessingDisable: boolean;
}

/** A translated page: the `size`-aligned block of input addresses containing the request. */
export interface Leaf {
  /** Host-physical address of the block's first byte. */
  readonly phys: PhysAddr;
  /** Block size: 4 KiB, 2 MiB or 1 GiB. */
  readonly size: number;
  /** Reads permitted. */
  readonly read: boolean;
  /** Writes permitted. */
  readonly write: boolean;
}

const TWO_32 = 2 ** 32;
/** Host-width check on the high half of a pointer qword: bits 63:46 must be clear. */
const HOST_HIGH_SHIFT = VTD_HOST_ADDRESS_WIDTH - 32;
/** Bits 51:12 of a paging entry as a number. */
function pteAddress(lo: number, hi: number): number {
  return (hi & 0xfffff) * TWO_32 + (lo >>> 12) * 4096;
}
/** Bits 63:12 of a pointer qword (callers have checked bits 63:46). */
function pointerAddress(lo: number, hi: number): number {
  return hi * TWO_32 + (lo >>> 12) * 4096;
}

/** Reads VT-d structures from physical memory. One instance per IOMMU; not re-entrant. */
export class VtdWalker {
  /** Low half of the last qword read. */
  private lo = 0;
  /** High half of the last qword read. */
  private hi = 0;
  /** Table pages of the current stage walk (loop detection). */
  private readonly visited: number[] = [0, 0, 0, 0];
  /** Memory reads done by walks (qwords), for the benchmark's walk cost. */
  reads = 0;

  /** @param memory - the machine's physical memory. */
  constructor(private readonly memory: PhysicalMemory) {}

  /** Loads the qword at `phys` into lo/hi; false when it is not memory (a table pointer is input). */
  private load(phys: PhysAddr): boolean {
    try {
      // Cheaper than checking the memory map first: memory throws only on addresses outside it.
      this.lo = this.memory.readU32(phys);
      this.hi = this.memory.readU32(phys + 4);
    } catch {
      return false;
    }
    this.reads++;
    return true;
  }

  /** True when every qword of `[phys, phys + 8 * count)` from `first` on is zero (reserved qwords). */
  private zeroQwords(phys: PhysAddr, first: number, count: number): boolean | undefined {
    for (let i = first; i < count; i++) {
      if (!this.load(phys + 8 * i)) return undefined;
      if (this.lo !== 0 || this.hi !== 0) return false;
    }
    return true;
  }

  /**
   * Root and context entry of requester `rid` under the root table at `rootTable`.
   *
   * @returns what the context entry says, or the fault.
   */
  readContext(rootTable: PhysAddr, rid: number): ContextInfo | WalkFault {
    const bus = rid >>> 8;
    const devfn = rid & 0xff;
    const rootEntry = rootTable + bus * VTD_ROOT_ENTRY_SIZE + (devfn >= 128 ? 8 : 0);
    if (!this.load(rootEntry)) return WALK_FAULTS.rootAccess;
    if ((this.lo & 1) === 0) return WALK_FAULTS.rootNotPresent;
    if ((this.lo & 0xffe) !== 0 || this.hi >>> HOST_HIGH_SHIFT !== 0) return WALK_FAULTS.rootReserved;
    const entry = pointerAddress(this.lo, this.hi) + (devfn & 0x7f) * VTD_CONTEXT_ENTRY_SIZE;
    if (!this.load(entry)) return WALK_FAULTS.contextAccess;
    const lo0 = this.lo;
    const hi0 = this.hi;
    if ((lo0 & 1) === 0) return WALK_FAULTS.contextNotPresent;
    // Reserved: bits 8:5; DTE (bit 2) and PRE (bit 4) as device-TLB and page requests are not emulated.
    if ((lo0 & 0x1f4) !== 0 || hi0 >>> HOST_HIGH_SHIFT !== 0) return WALK_FAULTS.contextReserved;
    if (!this.load(entry + 8)) return WALK_FAULTS.contextAccess;
    // qw1: RID_PASID in 19:0; RID_PRIV (bit 20) and above reserved.
    if (this.lo >>> 20 !== 0 || this.hi !== 0) return WALK_FAULTS.contextReserved;
    const ridPasid = this.lo;
    const rest = this.zeroQwords(entry, 2, 4);
    if (rest === undefined) return WALK_FAULTS.contextAccess;
    if (!rest) return WALK_FAULTS.contextReserved;
    return {
      pasidDirectory: pointerAddress(lo0, hi0),
      directoryEntries: 2 ** (((lo0 >>> 9) & 7) + 7),
      ridPasid,
      pasidEnable: (lo0 & 8) !== 0,
      faultProcessingDisable: (lo0 & 2) !== 0,
    };
  }

  /**
   * PASID directory and table entry of `pasid` under a context entry.
   *
   * @returns what the PASID entry says, or the fault.
   */
  readPasid(context: ContextInfo, pasid: number): PasidInfo | WalkFault {
    const dirIndex = pasid >>> 6;
    if (dirIndex >= context.directoryEntries) return WALK_FAULTS.pasidTooLarge;
    if (!this.load(context.pasidDirectory + dirIndex * VTD_PASID_DIR_ENTRY_SIZE))
      return WALK_FAULTS.pasidDirAccess;
    if ((this.lo & 1) === 0) return WALK_FAULTS.pasidDirNotPresent;
    if ((this.lo & 0xffc) !== 0 || this.hi >>> HOST_HIGH_SHIFT !== 0) return WALK_FAULTS.pasidDirReserved;
    const dirFpd = (this.lo & 2) !== 0;
    const entry = pointerAddress(this.lo, this.hi) + (pasid & 63) * VTD_PASID_ENTRY_SIZE;
    if (!this.load(entry)) return WALK_FAULTS.pasidAccess;
    const lo0 = this.lo;
    const hi0 = this.hi;
    if ((lo0 & 1) === 0) return WALK_FAULTS.pasidNotPresent;
    // Reserved: bits 11:10, SSADE (9) and SSEE (5): no A/D or execute support.
    if ((lo0 & 0xe20) !== 0 || hi0 >>> HOST_HIGH_SHIFT !== 0) return WALK_FAULTS.pasidReserved;
    if (!this.load(entry + 8)) return WALK_FAULTS.pasidAccess;
    if ((this.lo & 0x7f0000) !== 0) return WALK_FAULTS.pasidReserved;
    const domainId = this.lo & 0xffff;
    if (!this.load(entry + 16)) return WALK_FAULTS.pasidAccess;
    const lo2 = this.lo;
    const hi2 = this.hi;
    // Reserved: bits 11:8, SRE (0), ERE (1), EAFE (7): no supervisor, execute or extended-A requests.
    if ((lo2 & 0xf83) !== 0) return WALK_FAULTS.pasidReserved;
    const rest = this.zeroQwords(entry, 3, 8);
    if (rest === undefined) return WALK_FAULTS.pasidAccess;
    if (!rest) return WALK_FAULTS.pasidReserved;
    const pgtt = (lo0 >>> 6) & 7;
    if (pgtt < VTD_PGTT.FIRST_STAGE || pgtt > VTD_PGTT.PASS_THROUGH) return WALK_FAULTS.pasidInvalid;
    const usesSecond = pgtt === VTD_PGTT.SECOND_STAGE || pgtt === VTD_PGTT.NESTED;
    const usesFirst = pgtt === VTD_PGTT.FIRST_STAGE || pgtt === VTD_PGTT.NESTED;
    if (usesSecond && ((lo0 >>> 2) & 7) !== VTD_AW_48) return WALK_FAULTS.pasidInvalid;
    if (usesFirst && ((lo2 >>> 2) & 3) !== 0) return WALK_FAULTS.pasidInvalid;
    // The first-stage pointer is host-physical (first-stage) or guest-physical (nested: 48 bits).
    const firstWidth = pgtt === VTD_PGTT.NESTED ? VTD_ADDRESS_WIDTH : VTD_HOST_ADDRESS_WIDTH;
    if (usesFirst && hi2 >>> (firstWidth - 32) !== 0) return WALK_FAULTS.pasidReserved;
    return {
      domainId,
      pgtt,
      secondStageTable: pointerAddress(lo0, hi0),
      firstStageTable: pointerAddress(lo2, hi2),
      noExecuteEnable: (lo2 & 0x20) !== 0,
      faultProcessingDisable: dirFpd || (lo0 & 2) !== 0,
    };
  }

  /**
   * Walks a 4-level second-stage table for `address` (R and W ANDed over the levels).
   *
   * @param write - the access, to pick the not-present fault code.
   */
  walkSecondStage(table: PhysAddr, address: number, write: boolean): Leaf | WalkFault {
    if (address >= 2 ** VTD_ADDRESS_WIDTH) return WALK_FAULTS.beyondWidth;
    let read = true;
    let writable = true;
    for (let level = VTD_LEVELS; level >= 1; level--) {
      if (this.revisits(table, VTD_LEVELS - level)) return WALK_FAULTS.ssLoop;
      const shift = 2 ** (12 + 9 * (level - 1));
      const index = Math.floor(address / shift) % 512;
      if (!this.load(table + index * 8)) return WALK_FAULTS.ssAccess;
      const lo = this.lo;
      const hi = this.hi;
      if ((lo & 3) === 0) return write ? WALK_FAULTS.ssNotPresentWrite : WALK_FAULTS.ssNotPresentRead;
      // Reserved: SNP (11), bit 62, address bits 51:46.
      if ((lo & 0x800) !== 0 || (hi & 0x40000000) !== 0 || ((hi >>> HOST_HIGH_SHIFT) & 0x3f) !== 0) {
        return WALK_FAULTS.ssReserved;
      }
      read &&= (lo & 1) !== 0;
      writable &&= (lo & 2) !== 0;
      const ps = (lo & 0x80) !== 0;
      if (level === 1 || (ps && level <= 3)) {
        if (level > 1 && ((lo >>> 12) & (level === 2 ? 0x1ff : 0x3ffff)) !== 0) return WALK_FAULTS.ssReserved;
        return { phys: pteAddress(lo, hi), size: shift, read, write: writable };
      }
      if (ps) return WALK_FAULTS.ssReserved;
      table = pteAddress(lo, hi);
    }
    /* c8 ignore next */
    return WALK_FAULTS.ssReserved;
  }

  /**
   * Walks a 4-level IA-32e first-stage table for `address`. With `nestedSecondStage`, the table
   * pointer and every entry's address are guest-physical and are translated through that
   * second-stage table (reads), and the leaf's output is translated too (with the request's access).
   */
  walkFirstStage(
    table: PhysAddr,
    address: number,
    write: boolean,
    noExecuteEnable: boolean,
    nestedSecondStage: PhysAddr | undefined,
  ): Leaf | WalkFault {
    if (address >= 2 ** (VTD_ADDRESS_WIDTH - 1)) return WALK_FAULTS.nonCanonical;
    const nested = nestedSecondStage !== undefined;
    // Bits 51:W of an entry are reserved: W = 46 for host-physical, 48 for guest-physical addresses.
    const addressHighMask = nested ? 0xf0000 : 0xfc000;
    const fsTables: number[] = [];
    let writable = true;
    for (let level = VTD_LEVELS; level >= 1; level--) {
      let tableHpa = table;
      if (nested) {
        const t = this.walkSecondStage(nestedSecondStage, table, false);
        if (t instanceof WalkFault) return t;
        if (!t.read) return WALK_FAULTS.noRead;
        tableHpa = t.phys + (table % t.size);
      }
      if (fsTables.includes(tableHpa)) return WALK_FAULTS.fsLoop;
      fsTables.push(tableHpa);
      const span = 2 ** (12 + 9 * (level - 1));
      const index = Math.floor(address / span) % 512;
      if (!this.load(tableHpa + index * 8)) return WALK_FAULTS.fsAccess;
      const lo = this.lo;
      const hi = this.hi;
      if ((lo & 1) === 0) return WALK_FAULTS.fsNotPresent;
      if ((hi & addressHighMask) !== 0 || (!noExecuteEnable && hi >>> 31 !== 0))
        return WALK_FAULTS.fsReserved;
      writable &&= (lo & 2) !== 0;
      const ps = (lo & 0x80) !== 0;
      if (level === 4 && ps) return WALK_FAULTS.fsReserved;
      if (level === 1 || (ps && level <= 3)) {
        // Large leaves: bit 12 is PAT; bits 20:13 (2 MiB) or 29:13 (1 GiB) are reserved.
        if (level > 1 && ((lo >>> 13) & (level === 2 ? 0xff : 0x1ffff)) !== 0) return WALK_FAULTS.fsReserved;
        const out = level === 1 ? pteAddress(lo, hi) : pteAddress(lo & ~0x1000, hi);
        if (!nested) return { phys: out, size: span, read: true, write: writable };
        const gpa = out + (address % span);
        const s = this.walkSecondStage(nestedSecondStage, gpa, write);
        if (s instanceof WalkFault) return s;
        const size = Math.min(span, s.size);
        const phys = s.phys + (gpa % s.size) - (address % size);
        return { phys, size, read: s.read, write: writable && s.write };
      }
      table = pteAddress(lo, hi);
    }
    /* c8 ignore next */
    return WALK_FAULTS.fsReserved;
  }

  /** Loop detection for a stage walk: records `table` at `depth`, true when seen before. */
  private revisits(table: number, depth: number): boolean {
    const v = this.visited;
    for (let i = 0; i < depth; i++) if (v[i] === table) return true;
    v[depth] = table;
    return false;
  }
}
