/**
 * The VT-d register file: the state a remapping unit keeps in its registers (it is machine state
 * and survives kexec), register-level reads and writes with the architectural access types
 * (read-only, write-only, RW1C), and the capability values that state what is emulated.
 *
 * @module
 */
import { hex } from "../../common/errors.js";
import {
  VTD_ADDRESS_WIDTH,
  VTD_CAP,
  VTD_CC_GRANULARITY,
  VTD_CCMD,
  VTD_ECAP,
  VTD_EVENT_CONTROL,
  VTD_FAULT_RECORDS,
  VTD_FRCD_SIZE,
  VTD_FSTS,
  VTD_GCMD,
  VTD_ICS_IWC,
  VTD_IOTLB_GRANULARITY,
  VTD_IOTLB_REG,
  VTD_IQ_OFFSET_MASK,
  VTD_IQA,
  VTD_MAX_ADDRESS_MASK,
  VTD_PASID_BITS,
  VTD_REG,
  VTD_RTADDR,
  VTD_VERSION,
} from "./abi.js";
import { VtdRegisterError } from "./errors.js";
import type { VtdFaultLog } from "./faults.js";
import type { VtdInvalidation } from "./invalidation.js";

const b = (n: number): bigint => 1n << BigInt(n);

/** CAP_REG of the emulated unit: 64 Ki domains, SAGAW 4-level, MGAW 48, 2 MiB and 1 GiB leaves, PSI. */
export const VTD_CAP_VALUE: bigint =
  (6n << BigInt(VTD_CAP.ND)) |
  (0b00100n << BigInt(VTD_CAP.SAGAW)) |
  (BigInt(VTD_ADDRESS_WIDTH - 1) << BigInt(VTD_CAP.MGAW)) |
  (BigInt(VTD_REG.FRCD / 16) << BigInt(VTD_CAP.FRO)) |
  (0b0011n << BigInt(VTD_CAP.SLLPS)) |
  b(VTD_CAP.PSI) |
  (BigInt(VTD_FAULT_RECORDS - 1) << BigInt(VTD_CAP.NFR)) |
  (BigInt(VTD_MAX_ADDRESS_MASK) << BigInt(VTD_CAP.MAMV)) |
  b(VTD_CAP.FS1GP);

/**
 * ECAP_REG of the emulated unit: coherent walks, queued invalidation, pass-through, nested,
 * 20-bit PASIDs, scalable mode, first- and second-stage translation, RID_PASID.
 */
export const VTD_ECAP_VALUE: bigint =
  b(VTD_ECAP.C) |
  b(VTD_ECAP.QI) |
  b(VTD_ECAP.PT) |
  (BigInt(VTD_REG.IOTLB_BLOCK / 16) << BigInt(VTD_ECAP.IRO)) |
  b(VTD_ECAP.NEST) |
  (BigInt(VTD_PASID_BITS - 1) << BigInt(VTD_ECAP.PSS)) |
  b(VTD_ECAP.PASID) |
  b(VTD_ECAP.SMTS) |
  b(VTD_ECAP.SSTS) |
  b(VTD_ECAP.FSTS) |
  b(VTD_ECAP.SMPWCS) |
  b(VTD_ECAP.RPS);

/** What a register write asks the unit to do next. */
export type RegisterEffect = "none" | "queue-tail" | "context-command" | "iotlb-command";

/** The register state of one VT-d unit. */
export class VtdRegisters {
  /** GSTS.TES. */
  translationEnabled = false;
  /** GSTS.RTPS: a root table pointer has been latched. */
  rootTablePointerSet = false;
  /** GSTS.QIES. */
  queueEnabled = false;
  /** RTADDR_REG as last written (RTA and TTM). */
  rtaddr = 0n;
  /** Root table address latched by the last SRTP (what the hardware walks). */
  rootTable = 0;
  /** TTM latched by the last SRTP. */
  tableMode = 0;
  /** CCMD_REG (ICC clear once the command is done). */
  ccmd = 0n;
  /** IVA_REG. */
  iva = 0n;
  /** IOTLB_REG (IVT clear once the command is done). */
  iotlbCommand = 0n;
  /** IQA_REG. */
  iqa = 0n;
  /** IQH_REG byte offset. */
  queueHead = 0;
  /** IQT_REG byte offset. */
  queueTail = 0;
  /** ICS.IWC. */
  waitComplete = false;
  /** FSTS.IQE. */
  queueError = false;
  /** IQERCD.IQEI. */
  queueErrorInfo = 0;
  /** IECTL.IM. */
  invalidationInterruptMask = true;
  /** IECTL.IP. */
  invalidationInterruptPending = false;
  /** FEDATA, FEADDR, FEUADDR, IEDATA, IEADDR, IEUADDR (stored, not used: no interrupt delivery). */
  readonly messageRegisters = new Map<number, number>();

  /** @param faults - the fault log behind FSTS/FECTL/FRCD. */
  constructor(private readonly faults: VtdFaultLog) {}

  /** IQA base address. */
  queueBase(): number {
    return Number(this.iqa & ~0xfffn);
  }

  /** Descriptor width in bytes (16 or 32, IQA.DW). */
  descriptorBytes(): number {
    return ((this.iqa >> BigInt(VTD_IQA.DW)) & 1n) === 1n ? 32 : 16;
  }

  /** Queue size in bytes (2^QS pages). */
  queueBytes(): number {
    return 4096 * 2 ** Number(this.iqa & BigInt(VTD_IQA.QS_MASK));
  }

  /** GSTS_REG value. */
  gsts(): number {
    return (
      ((this.translationEnabled ? 1 : 0) * 2 ** VTD_GCMD.TE +
        (this.rootTablePointerSet ? 1 : 0) * 2 ** VTD_GCMD.SRTP +
        (this.queueEnabled ? 1 : 0) * 2 ** VTD_GCMD.QIE) >>>
      0
    );
  }

  /** FSTS_REG value. */
  fsts(): number {
    const f = this.faults;
    return (
      ((f.overflow ? 1 : 0) << VTD_FSTS.PFO) |
      ((f.primaryPendingFault() ? 1 : 0) << VTD_FSTS.PPF) |
      ((this.queueError ? 1 : 0) << VTD_FSTS.IQE) |
      (f.faultRecordIndex << VTD_FSTS.FRI_SHIFT)
    );
  }

  /**
   * Reads the register at `offset` (its architectural width; 32-bit registers come back below
   * 2^32). Write-only GCMD reads as 0.
   *
   * @throws {@link VtdRegisterError} for an offset that is not a register of this unit.
   */
  read(offset: number): bigint {
    switch (offset) {
      case VTD_REG.VER:
        return BigInt(VTD_VERSION);
      case VTD_REG.CAP:
        return VTD_CAP_VALUE;
      case VTD_REG.ECAP:
        return VTD_ECAP_VALUE;
      case VTD_REG.GCMD:
        return 0n;
      case VTD_REG.GSTS:
        return BigInt(this.gsts());
      case VTD_REG.RTADDR:
        return this.rtaddr;
      case VTD_REG.CCMD:
        return this.ccmd;
      case VTD_REG.IVA:
        return this.iva;
      case VTD_REG.IOTLB:
        return this.iotlbCommand;
      case VTD_REG.FSTS:
        return BigInt(this.fsts());
      case VTD_REG.FECTL:
        return BigInt(eventControl(this.faults.interruptMask, this.faults.interruptPending));
      case VTD_REG.IQH:
        return BigInt(this.queueHead);
      case VTD_REG.IQT:
        return BigInt(this.queueTail);
      case VTD_REG.IQA:
        return this.iqa;
      case VTD_REG.ICS:
        return this.waitComplete ? 1n : 0n;
      case VTD_REG.IECTL:
        return BigInt(eventControl(this.invalidationInterruptMask, this.invalidationInterruptPending));
      case VTD_REG.IQERCD:
        return BigInt(this.queueErrorInfo);
    }
    if (MESSAGE_REGISTERS.includes(offset)) return BigInt(this.messageRegisters.get(offset) ?? 0);
    const record = frcdAt(offset);
    if (record !== undefined) return this.faults.frcd(record.index)[record.high ? 1 : 0];
    throw new VtdRegisterError(offset, "read", "no such register (see docs/concepts/iommu.md)");
  }

  /**
   * Writes the register at `offset` with the architectural semantics (read-only fields ignored,
   * RW1C bits cleared by writing 1).
   *
   * @returns what the unit must do as a consequence.
   * @throws {@link VtdRegisterError} for an offset that is not a writable register of this unit.
   */
  write(offset: number, value: bigint): RegisterEffect {
    switch (offset) {
      case VTD_REG.GCMD:
        return this.writeGlobalCommand(Number(value & 0xffff_ffffn));
      case VTD_REG.RTADDR:
        this.rtaddr = value & ~0x3ffn;
        return "none";
      case VTD_REG.CCMD:
        this.ccmd = value;
        return (value & b(VTD_CCMD.ICC)) !== 0n ? "context-command" : "none";
      case VTD_REG.IVA:
        this.iva = value & ~0xf80n;
        return "none";
      case VTD_REG.IOTLB:
        this.iotlbCommand = value;
        return (value & b(VTD_IOTLB_REG.IVT)) !== 0n ? "iotlb-command" : "none";
      case VTD_REG.FSTS:
        if ((value & b(VTD_FSTS.PFO)) !== 0n) this.faults.clearOverflow();
        if ((value & b(VTD_FSTS.IQE)) !== 0n) {
          this.queueError = false;
          this.queueErrorInfo = 0;
        }
        return "none";
      case VTD_REG.FECTL:
        this.faults.interruptMask = (value & b(VTD_EVENT_CONTROL.IM)) !== 0n;
        return "none";
      case VTD_REG.IQT:
        this.queueTail = Number(value & BigInt(VTD_IQ_OFFSET_MASK));
        return "queue-tail";
      case VTD_REG.IQA:
        this.iqa = value & ~0x7f8n;
        return "none";
      case VTD_REG.ICS:
        if ((value & b(VTD_ICS_IWC)) !== 0n) {
          this.waitComplete = false;
          this.invalidationInterruptPending = false;
        }
        return "none";
      case VTD_REG.IECTL:
        this.invalidationInterruptMask = (value & b(VTD_EVENT_CONTROL.IM)) !== 0n;
        return "none";
    }
    if (MESSAGE_REGISTERS.includes(offset)) {
      this.messageRegisters.set(offset, Number(value & 0xffff_ffffn));
      return "none";
    }
    const record = frcdAt(offset);
    if (record !== undefined) {
      if (record.high && (value & b(63)) !== 0n) this.faults.clearRecord(record.index);
      return "none";
    }
    throw new VtdRegisterError(offset, "write", "not a writable register (see docs/concepts/iommu.md)");
  }

  /**
   * GCMD: TE and QIE follow the written bits (software writes GSTS with the one bit it changes);
   * SRTP latches RTADDR. Latching does not flush any cache (CAP.ESRTPS = 0): software invalidates.
   */
  private writeGlobalCommand(value: number): RegisterEffect {
    if ((value & (2 ** VTD_GCMD.SRTP)) !== 0) {
      this.rootTable = Number(this.rtaddr & ~0xfffn);
      this.tableMode = Number((this.rtaddr >> BigInt(VTD_RTADDR.TTM_SHIFT)) & BigInt(VTD_RTADDR.TTM_MASK));
      this.rootTablePointerSet = true;
    }
    const qie = (value & (2 ** VTD_GCMD.QIE)) !== 0;
    // Enabling queued invalidation resets the head (software sets the tail to 0 first).
    if (qie && !this.queueEnabled) this.queueHead = 0;
    this.queueEnabled = qie;
    this.translationEnabled = (value & (2 ** VTD_GCMD.TE)) !== 0;
    return "none";
  }

  /**
   * Completes a context command (CCMD.ICC set): reports the granularity actually done (CAIG =
   * CIRG), clears ICC.
   *
   * @returns the invalidation asked for, or undefined for a reserved granularity (nothing done).
   */
  takeContextCommand(): VtdInvalidation | undefined {
    const v = this.ccmd;
    const g = Number((v >> BigInt(VTD_CCMD.CIRG_SHIFT)) & 3n);
    const inv: VtdInvalidation | undefined =
      g === VTD_CC_GRANULARITY.GLOBAL
        ? { kind: "context-global" }
        : g === VTD_CC_GRANULARITY.DOMAIN
          ? { kind: "context-domain", domainId: Number(v & 0xffffn) }
          : g === VTD_CC_GRANULARITY.DEVICE
            ? {
                kind: "context-device",
                sourceId: Number((v >> BigInt(VTD_CCMD.SID_SHIFT)) & 0xffffn),
                functionMask: Number((v >> BigInt(VTD_CCMD.FM_SHIFT)) & 3n),
              }
            : undefined;
    const done = inv === undefined ? 0n : BigInt(g);
    this.ccmd =
      (v & ~(b(VTD_CCMD.ICC) | (3n << BigInt(VTD_CCMD.CAIG_SHIFT)))) | (done << BigInt(VTD_CCMD.CAIG_SHIFT));
    return inv;
  }

  /**
   * Completes an IOTLB command (IOTLB_REG.IVT set; page-selective takes the range from IVA_REG):
   * reports IAIG = IIRG, clears IVT.
   *
   * @returns the invalidation asked for, or undefined for a reserved granularity (nothing done).
   */
  takeIotlbCommand(): VtdInvalidation | undefined {
    const v = this.iotlbCommand;
    const g = Number((v >> BigInt(VTD_IOTLB_REG.IIRG_SHIFT)) & 3n);
    const domainId = Number((v >> BigInt(VTD_IOTLB_REG.DID_SHIFT)) & 0xffffn);
    const addressMask = Number(this.iva & 0x3fn);
    const inv: VtdInvalidation | undefined =
      g === VTD_IOTLB_GRANULARITY.GLOBAL
        ? { kind: "iotlb-global" }
        : g === VTD_IOTLB_GRANULARITY.DOMAIN
          ? { kind: "iotlb-domain", domainId }
          : g === VTD_IOTLB_GRANULARITY.PAGE && addressMask <= VTD_MAX_ADDRESS_MASK
            ? { kind: "iotlb-page", domainId, address: Number(this.iva & ~0xfffn), addressMask }
            : undefined;
    const done = inv === undefined ? 0n : BigInt(g);
    this.iotlbCommand =
      (v & ~(b(VTD_IOTLB_REG.IVT) | (3n << BigInt(VTD_IOTLB_REG.IAIG_SHIFT)))) |
      (done << BigInt(VTD_IOTLB_REG.IAIG_SHIFT));
    return inv;
  }

  /** The registers as hex strings, for {@link VtdIommuState}. */
  hexDump(): Record<string, string> {
    return {
      ver: hex(VTD_VERSION),
      cap: hex(VTD_CAP_VALUE),
      ecap: hex(VTD_ECAP_VALUE),
      gsts: hex(this.gsts()),
      rtaddr: hex(this.rtaddr),
      ccmd: hex(this.ccmd),
      iva: hex(this.iva),
      iotlb: hex(this.iotlbCommand),
      fsts: hex(this.fsts()),
      fectl: hex(eventControl(this.faults.interruptMask, this.faults.interruptPending)),
      iqa: hex(this.iqa),
      iqh: hex(this.queueHead),
      iqt: hex(this.queueTail),
      ics: hex(this.waitComplete ? 1 : 0),
      iqercd: hex(this.queueErrorInfo),
    };
  }
}

/** Fault and invalidation event message registers (stored only). */
const MESSAGE_REGISTERS: readonly number[] = [
  VTD_REG.FEDATA,
  VTD_REG.FEADDR,
  VTD_REG.FEUADDR,
  VTD_REG.IECTL + 4,
  VTD_REG.IECTL + 8,
  VTD_REG.IECTL + 12,
];

function eventControl(mask: boolean, pending: boolean): number {
  return ((mask ? 1 : 0) * 2 ** VTD_EVENT_CONTROL.IM + (pending ? 1 : 0) * 2 ** VTD_EVENT_CONTROL.IP) >>> 0;
}

/** Which FRCD register (and which half) `offset` addresses, if any. */
function frcdAt(offset: number): { index: number; high: boolean } | undefined {
  const rel = offset - VTD_REG.FRCD;
  if (rel < 0 || rel >= VTD_FAULT_RECORDS * VTD_FRCD_SIZE || rel % 8 !== 0) return undefined;
  return { index: Math.floor(rel / VTD_FRCD_SIZE), high: rel % VTD_FRCD_SIZE === 8 };
}
