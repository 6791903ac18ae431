/**
 * Fault reporting of the VT-d unit: the architectural primary fault log (fault recording
 * registers FRCD with their F bits, FSTS.PFO/PPF/FRI, FECTL.IP) and an unbounded-count, bounded-size
 * software log with counters per requester id and per reason, for tests and end-to-end checks.
 * Recording a fault never throws: a fault stops the request, never the emulator.
 *
 * @module
 */
import type { DmaFaultReason } from "../dma.js";
import { VTD_FAULT_RECORDS } from "./abi.js";

/** One fault as the software log keeps it. */
export interface VtdFaultRecord {
  /** Sequence number (0 for the first fault of this IOMMU). */
  readonly sequence: number;
  /** Why. */
  readonly reason: DmaFaultReason;
  /** The architectural fault reason code (FR). */
  readonly code: number;
  /** Requester id (source id). */
  readonly requesterId: number;
  /** PASID of the request, undefined for a request without PASID. */
  readonly pasid: number | undefined;
  /** The input address. */
  readonly iova: number;
  /** Write request. */
  readonly write: boolean;
  /** Whether a fault recording register took it (false: FPD set, or the registers were full: PFO). */
  readonly recorded: boolean;
}

/** One fault recording register's content. */
interface FrcdSlot {
  /** F: the register holds a fault software has not cleared. */
  fault: boolean;
  /** FI: the page address of the faulting request (bits 63:12). */
  page: number;
  /** SID. */
  sourceId: number;
  /** FR. */
  code: number;
  /** PP: the request had a PASID. */
  pasidPresent: boolean;
  /** PV. */
  pasid: number;
  /** T1: 1 = read request, 0 = write. */
  read: boolean;
}

/** The fault log: FRCD registers, FSTS fault bits and the software log. */
export class VtdFaultLog {
  /** The fault recording registers. */
  private readonly slots: FrcdSlot[] = [];
  /** FSTS.FRI: the register the next fault goes to. */
  faultRecordIndex = 0;
  /** FSTS.PFO: a fault was dropped because the next register was still full. */
  overflow = false;
  /** FECTL.IP: a fault event is pending (the interrupt message itself is not delivered). */
  interruptPending = false;
  /** FECTL.IM. */
  interruptMask = true;
  /** Faults seen, recorded or not. */
  total = 0;
  private readonly recent: VtdFaultRecord[] = [];
  private readonly byRequester = new Map<number, number>();
  private readonly byReason = new Map<DmaFaultReason, number>();

  /** @param capacity - most records the software log keeps (the oldest are dropped; counters are exact). */
  constructor(private readonly capacity = 1024) {
    for (let i = 0; i < VTD_FAULT_RECORDS; i++) {
      this.slots.push({
        fault: false,
        page: 0,
        sourceId: 0,
        code: 0,
        pasidPresent: false,
        pasid: 0,
        read: false,
      });
    }
  }

  /**
   * Records a fault: in the software log always, in the fault recording registers unless
   * `suppressed` (FPD) — the register at FRI if its F bit is clear, else FSTS.PFO is set and the
   * fault is not recorded.
   */
  record(
    reason: DmaFaultReason,
    code: number,
    requesterId: number,
    pasid: number | undefined,
    iova: number,
    write: boolean,
    suppressed: boolean,
  ): void {
    let recorded = false;
    if (!suppressed) {
      const slot = this.slots[this.faultRecordIndex]!;
      if (slot.fault) {
        this.overflow = true;
      } else {
        slot.fault = true;
        slot.page = Math.floor(iova / 4096) * 4096;
        slot.sourceId = requesterId;
        slot.code = code;
        slot.pasidPresent = pasid !== undefined;
        slot.pasid = pasid ?? 0;
        slot.read = !write;
        this.faultRecordIndex = (this.faultRecordIndex + 1) % VTD_FAULT_RECORDS;
        this.interruptPending = true;
        recorded = true;
      }
    }
    const entry: VtdFaultRecord = {
      sequence: this.total,
      reason,
      code,
      requesterId,
      pasid,
      iova,
      write,
      recorded,
    };
    this.total++;
    this.recent.push(entry);
    if (this.recent.length > this.capacity) this.recent.shift();
    this.byRequester.set(requesterId, (this.byRequester.get(requesterId) ?? 0) + 1);
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
  }

  /** FSTS.PPF: some fault recording register holds a fault. */
  primaryPendingFault(): boolean {
    return this.slots.some((s) => s.fault);
  }

  /** FRCD register `index`: `[low qword (FI), high qword (SID, T1, PP, FR, PV, F)]`. */
  frcd(index: number): readonly [bigint, bigint] {
    const s = this.slots[index]!;
    const hi =
      BigInt(s.sourceId) |
      (BigInt(s.pasidPresent ? 1 : 0) << 31n) |
      (BigInt(s.code) << 32n) |
      (BigInt(s.pasid) << 40n) |
      (BigInt(s.read ? 1 : 0) << 62n) |
      (BigInt(s.fault ? 1 : 0) << 63n);
    return [BigInt(s.page), hi];
  }

  /** Write-1-to-clear of FRCD `index`'s F bit (bit 127 of the register). */
  clearRecord(index: number): void {
    this.slots[index]!.fault = false;
    this.settleInterrupt();
  }

  /** Write-1-to-clear of FSTS.PFO. */
  clearOverflow(): void {
    this.overflow = false;
    this.settleInterrupt();
  }

  /** The software log, oldest first (at most `capacity` records). */
  records(): readonly VtdFaultRecord[] {
    return this.recent;
  }

  /** Faults of one requester id. */
  countFor(requesterId: number): number {
    return this.byRequester.get(requesterId) ?? 0;
  }

  /** Faults per requester id. */
  countsByRequester(): ReadonlyMap<number, number> {
    return this.byRequester;
  }

  /** Faults per reason. */
  countsByReason(): ReadonlyMap<DmaFaultReason, number> {
    return this.byReason;
  }

  /** IP clears once software has serviced every pending fault condition. */
  private settleInterrupt(): void {
    if (!this.overflow && !this.primaryPendingFault()) this.interruptPending = false;
  }
}
