import { crc32 } from "node:zlib";
import type { DmaFaultReason } from "../../dma.js";
import { type DmaFailure, PciFunction } from "../../pci/function.js";
import { type PhaseCounts, zeroPhaseCounts } from "../../scheduler/phase.js";
import type { DeviceRunContext } from "../../scheduler/scheduler.js";
import {
  COMPLETION_STATUS,
  CONTROL_ENABLE,
  DESCRIPTOR_SIZE,
  DMA_ENGINE_CLASS,
  DMA_ENGINE_DEVICE_ID,
  DMA_ENGINE_MAGIC,
  DMA_ENGINE_MSIX_BAR,
  DMA_ENGINE_PBA_OFFSET,
  DMA_ENGINE_REG_BAR,
  DMA_ENGINE_VECTOR_COMPLETION,
  DMA_ENGINE_VENDOR_ID,
  type DmaDescriptor,
  decodeDescriptor,
  encodeCompletion,
  FLAG_INTERRUPT,
  faultCode,
  HALT_BAD_RING,
  OP_COPY,
  OP_COPY_CRC32,
  PASID_ENABLE,
  REG,
  STATUS_BUSY,
  STATUS_HALTED,
} from "./abi.js";

/** How fast a {@link DmaEngine} works, in machine time. */
export interface DmaEngineOptions {
  /** Bytes copied per second of machine time (default 4e9; `Infinity`: as fast as the host). */
  readonly bandwidth?: number;
  /** Machine time (ns) to fetch and start one descriptor (default 50). */
  readonly descriptorNs?: number;
}

/** Work a {@link DmaEngine} did, per update phase. */
export interface DmaEngineProgress {
  /** Bytes copied. */
  readonly bytes: PhaseCounts;
  /** Descriptors completed (successfully or not). */
  readonly descriptors: PhaseCounts;
  /** Descriptors that completed with a fault status. */
  readonly faulted: PhaseCounts;
}

interface InFlight extends DmaDescriptor {
  done: number;
  crc: number;
}

type Translated = { phys: number; contiguous: number } | DmaFailure | undefined;

/**
 * A copy-and-checksum DMA engine on PCI (see the `abi` module for its registers and formats). It
 * processes a ring of descriptors in memory addressed by IOVA — copy N bytes from IOVA a to IOVA b,
 * optionally computing their CRC32, then write a completion record — and raises its MSI-X vector
 * per flagged completion or per batch. Software posts descriptors by writing TAIL (the doorbell).
 *
 * It works only when the machine's scheduler runs it, at its bandwidth in machine time, and a copy
 * may span many runs: a descriptor is in flight across preemption points. Every access (descriptor
 * fetch, source, destination, completion) is translated through the bus's remapper with this
 * function's requester id (and PASID when enabled); the engine moves at most the translation's
 * `contiguous` bytes per translation. A faulting source or destination ends the descriptor with a
 * fault status; a faulting descriptor fetch halts the engine (STATUS.HALTED with the reason).
 * With bus mastering off, nothing moves: each attempt is counted in `counters.dmaBlocked`.
 *
 * @example
 * ```ts
 * const engine = new DmaEngine();
 * machine.pci.attach(engine, "00:04.0");
 * // program BARs, command, ring base/size, enable; post descriptors; write TAIL
 * machine.run(1_000_000);
 * ```
 */
export class DmaEngine extends PciFunction {
  /** Work done per update phase. */
  readonly progress: DmaEngineProgress = {
    bytes: zeroPhaseCounts(),
    descriptors: zeroPhaseCounts(),
    faulted: zeroPhaseCounts(),
  };
  /** Completion records that could not be written (their translation faulted). */
  completionFaults = 0;
  private readonly bytesPerNs: number;
  private readonly descriptorNs: number;
  private ringBase = 0;
  private ringSize = 0;
  private enabled = false;
  private head = 0;
  private tail = 0;
  private haltReason = 0;
  private irqBatch = 0;
  private pasidReg = 0;
  private completed = 0;
  private sinceIrq = 0;
  private credit = 0;
  private current: InFlight | undefined;
  private readonly scratch = new Uint8Array(DESCRIPTOR_SIZE);
  private readonly scratchView = new DataView(this.scratch.buffer);

  /** @param options - bandwidth and per-descriptor cost in machine time. */
  constructor(options: DmaEngineOptions = {}) {
    super({
      name: "dma-engine",
      vendorId: DMA_ENGINE_VENDOR_ID,
      deviceId: DMA_ENGINE_DEVICE_ID,
      classCode: DMA_ENGINE_CLASS,
      bars: [
        { index: DMA_ENGINE_REG_BAR, size: 4096 },
        { index: DMA_ENGINE_MSIX_BAR, size: 4096 },
      ],
      msix: {
        vectors: 1,
        tableBar: DMA_ENGINE_MSIX_BAR,
        tableOffset: 0,
        pbaBar: DMA_ENGINE_MSIX_BAR,
        pbaOffset: DMA_ENGINE_PBA_OFFSET,
      },
    });
    this.bytesPerNs = (options.bandwidth ?? 4e9) / 1e9;
    this.descriptorNs = options.descriptorNs ?? 50;
  }

  /** The registers as software would read them (for exports and tests). */
  registers(): Record<keyof typeof REG, number> {
    const out = {} as Record<keyof typeof REG, number>;
    for (const key of Object.keys(REG) as Array<keyof typeof REG>) out[key] = this.readRegister(0, REG[key]);
    return out;
  }

  /** Registers, work per phase and completion-record faults, for `exportHardwareState`. */
  override deviceState(): Readonly<Record<string, unknown>> {
    return {
      model: "dma-engine",
      registers: this.registers(),
      progress: this.progress,
      completionFaults: this.completionFaults,
    };
  }

  /** Runs the engine for `context.budgetNs` of machine time. */
  override run(context: DeviceRunContext): void {
    if (!this.enabled || this.haltReason !== 0 || (this.current === undefined && this.head === this.tail)) {
      this.credit = 0; // an idle engine banks no time
      return;
    }
    // An infinitely fast engine (benchmarks) has unbounded credit and no per-descriptor cost.
    this.credit = Number.isFinite(this.bytesPerNs)
      ? this.credit + context.budgetNs * this.bytesPerNs
      : Infinity;
    const phase = context.phase;
    while (this.credit > 0) {
      let d = this.current;
      if (d === undefined) {
        if (this.head === this.tail) {
          this.credit = 0;
          return;
        }
        const fetched = this.fetch();
        if (fetched === undefined) return; // blocked or halted
        d = fetched;
        this.current = d;
        if (this.credit !== Infinity) this.credit -= this.descriptorNs * this.bytesPerNs;
      }
      if (d.opcode !== OP_COPY && d.opcode !== OP_COPY_CRC32) {
        this.finish(d, COMPLETION_STATUS.BAD_DESCRIPTOR, 0, phase);
        continue;
      }
      const outcome = this.copy(d, phase);
      if (outcome === "blocked" || outcome === "credit") return;
      if (outcome === "done") this.finish(d, COMPLETION_STATUS.SUCCESS, 0, phase);
      else this.finish(d, outcome.status, faultCode(outcome.failure), phase);
    }
  }

  protected override readRegister(_bar: number, offset: number): number {
    switch (offset) {
      case REG.ID:
        return DMA_ENGINE_MAGIC;
      case REG.VERSION:
        return 1;
      case REG.RING_BASE_LO:
        return this.ringBase % 2 ** 32;
      case REG.RING_BASE_HI:
        return Math.floor(this.ringBase / 2 ** 32);
      case REG.RING_SIZE:
        return this.ringSize;
      case REG.CONTROL:
        return this.enabled ? CONTROL_ENABLE : 0;
      case REG.HEAD:
        return this.head;
      case REG.TAIL:
        return this.tail;
      case REG.STATUS: {
        const busy = this.enabled && (this.current !== undefined || this.head !== this.tail);
        return (
          (busy ? STATUS_BUSY : 0) | (this.haltReason !== 0 ? STATUS_HALTED | (this.haltReason << 8) : 0)
        );
      }
      case REG.IRQ_BATCH:
        return this.irqBatch;
      case REG.COMPLETED:
        return this.completed >>> 0;
      case REG.PASID:
        return this.pasidReg;
      default:
        return 0;
    }
  }

  protected override writeRegister(_bar: number, offset: number, value: number): void {
    const idle = !this.enabled;
    switch (offset) {
      case REG.RING_BASE_LO:
        if (idle) this.ringBase = Math.floor(this.ringBase / 2 ** 32) * 2 ** 32 + value;
        break;
      case REG.RING_BASE_HI:
        if (idle) this.ringBase = (value & 0xf_ffff) * 2 ** 32 + (this.ringBase % 2 ** 32);
        break;
      case REG.RING_SIZE:
        if (idle) this.ringSize = value;
        break;
      case REG.HEAD:
        if (idle) this.head = this.ringSize > 0 ? value % this.ringSize : 0;
        break;
      case REG.TAIL:
        this.tail = this.ringSize > 0 ? value % this.ringSize : 0;
        break;
      case REG.CONTROL:
        this.setEnabled((value & CONTROL_ENABLE) !== 0);
        break;
      case REG.IRQ_BATCH:
        this.irqBatch = value;
        break;
      case REG.PASID:
        this.pasidReg = value & (PASID_ENABLE | 0xf_ffff);
        break;
      default:
        break; // read-only or unimplemented: ignored
    }
  }

  protected resetDevice(): void {
    this.ringBase = 0;
    this.ringSize = 0;
    this.enabled = false;
    this.head = 0;
    this.tail = 0;
    this.haltReason = 0;
    this.irqBatch = 0;
    this.pasidReg = 0;
    this.completed = 0;
    this.sinceIrq = 0;
    this.credit = 0;
    this.current = undefined;
  }

  private setEnabled(on: boolean): void {
    if (!on) {
      // Disabling abandons the descriptor in flight; it restarts from its beginning on re-enable.
      this.enabled = false;
      this.current = undefined;
      return;
    }
    if (this.enabled) return;
    const size = this.ringSize;
    const okRing = size >= 1 && size <= 65536 && (size & (size - 1)) === 0 && this.ringBase % 32 === 0;
    this.haltReason = okRing ? 0 : HALT_BAD_RING;
    this.enabled = okRing;
  }

  private get pasid(): number | undefined {
    return (this.pasidReg & PASID_ENABLE) !== 0 ? this.pasidReg & 0xf_ffff : undefined;
  }

  /** Fetches the descriptor at HEAD (32 bytes never straddle a page: the ring is 32-byte aligned). */
  private fetch(): InFlight | undefined {
    const failure = this.dmaRead(this.ringBase + this.head * DESCRIPTOR_SIZE, this.scratch, this.pasid);
    if (failure === "bus-master-disabled") return undefined;
    if (failure !== undefined) {
      this.haltReason = faultCode(failure);
      return undefined;
    }
    return { ...decodeDescriptor(this.scratchView), done: 0, crc: 0 };
  }

  /** Copies as much of `d` as credit allows, one translated chunk at a time. */
  private copy(
    d: InFlight,
    phase: DeviceRunContext["phase"],
  ): "done" | "blocked" | "credit" | { status: number; failure: DmaFailure } {
    const memory = this.memory;
    const pasid = this.pasid;
    const withCrc = d.opcode === OP_COPY_CRC32;
    while (d.done < d.length) {
      if (this.credit < 1) return "credit";
      const s = this.chunk(d.src + d.done, false, pasid);
      if (s === undefined) return "blocked";
      if (typeof s === "string") return { status: COMPLETION_STATUS.SRC_FAULT, failure: s };
      const t = this.chunk(d.dst + d.done, true, pasid);
      if (t === undefined) return "blocked";
      if (typeof t === "string") return { status: COMPLETION_STATUS.DST_FAULT, failure: t };
      const n = Math.min(d.length - d.done, s.contiguous, t.contiguous, Math.floor(this.credit));
      let bytes: Uint8Array;
      try {
        bytes = memory.peek(s.phys, n);
      } catch {
        this.counters.dmaNotMemory++;
        return { status: COMPLETION_STATUS.SRC_FAULT, failure: "not-memory" };
      }
      if (withCrc) d.crc = crc32(bytes, d.crc);
      try {
        memory.write(t.phys, bytes);
      } catch {
        this.counters.dmaNotMemory++;
        return { status: COMPLETION_STATUS.DST_FAULT, failure: "not-memory" };
      }
      d.done += n;
      this.credit -= n;
      this.progress.bytes[phase] += n;
    }
    return "done";
  }

  private chunk(iova: number, write: boolean, pasid: number | undefined): Translated {
    const t = this.translate(iova, write, pasid);
    if (t === undefined) return undefined;
    if (!t.ok) return t.reason satisfies DmaFaultReason;
    return t;
  }

  /** Writes the completion record, advances HEAD and raises the vector when due. */
  private finish(d: InFlight, status: number, fault: number, phase: DeviceRunContext["phase"]): void {
    this.completed++;
    const record = encodeCompletion({
      status,
      fault,
      crc: d.opcode === OP_COPY_CRC32 ? d.crc : 0,
      bytes: d.done,
      sequence: this.completed,
    });
    if (this.dmaWrite(d.completion, record, this.pasid) !== undefined) this.completionFaults++;
    this.current = undefined;
    this.head = (this.head + 1) % this.ringSize;
    this.progress.descriptors[phase]++;
    if (status !== COMPLETION_STATUS.SUCCESS) this.progress.faulted[phase]++;
    this.sinceIrq++;
    const batchDue = this.irqBatch > 0 && (this.sinceIrq >= this.irqBatch || this.head === this.tail);
    if ((d.flags & FLAG_INTERRUPT) !== 0 || batchDue) {
      this.sinceIrq = 0;
      this.raiseInterrupt(DMA_ENGINE_VECTOR_COMPLETION);
    }
  }
}
