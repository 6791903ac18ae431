import { crc32 } from "node:zlib";
import { dmaEngineAbi as abi, Prng } from "@liveupdate/core";
import type { VfioDevice, VfioPciDriver } from "@liveupdate/drivers-vfio";
import type { GuestmemMapping } from "@liveupdate/guestmemfs";
import { VmmConfigError } from "../errors.js";

/** Geometry of a {@link DmaWorkload}: where its ring, records and buffers are in guest RAM. */
export interface DmaWorkloadLayout {
  /** Guest-physical base of the workload's 4 MiB region (2 MiB aligned). */
  readonly base: number;
  /** What the device's descriptors address: `iovaBase + guest-physical` (0 without a vIOMMU). */
  readonly iovaBase: number;
  /** Descriptors in the ring (a power of two). */
  readonly ringSize: number;
  /** Bytes per copy. */
  readonly chunk: number;
  /** Source buffers (static: the guest fills them once). */
  readonly sources: number;
  /** Destination buffers. */
  readonly destinations: number;
}

/** The default geometry: 4096 descriptors of 16 KiB from 64 sources to 32 destinations. */
export const DEFAULT_WORKLOAD = Object.freeze({
  ringSize: 4096,
  chunk: 16 * 1024,
  sources: 64,
  destinations: 32,
});

/** Bytes of guest RAM one workload uses. */
export const WORKLOAD_REGION = 4 * 1024 * 1024;

const RING = 0;
const COMPLETIONS = 0x2_0000;
const SOURCES = 0x10_0000;
const DESTINATIONS = 0x20_0000;

/** A write the model predicts: `bytes` at guest-physical `gpa`. */
export interface PredictedWrite {
  /** Guest-physical address. */
  readonly gpa: number;
  /** The bytes. */
  readonly bytes: Uint8Array;
}

/** The device's position when a measurement starts: completions so far and the ring head. */
export interface WorkloadMark {
  /** The COMPLETED register. */
  readonly completed: number;
  /**
   * The HEAD register: the slot of the descriptor in flight, or of the next one. The engine
   * advances HEAD when a descriptor completes (not when it fetches it), so the first completion
   * after the mark is slot `head` and carries sequence `completed + 1`.
   */
  readonly head: number;
}

/**
 * The guest's driver of one copy-and-checksum DMA engine, and the model that predicts what the
 * device writes. The ring is static: descriptor k copies source `k mod S` to destination `k mod D`
 * (CRC32 on) and writes its completion record to slot k; the guest only moves TAIL (through the
 * VMM's BAR access) to keep the ring full, so between two marks the device is the only writer of
 * guest RAM, and what it wrote follows from how many descriptors completed: a destination holds
 * the source of the last descriptor that wrote it, a record slot the last record. The checks
 * recompute the RAM digest from that and compare.
 */
export class DmaWorkload {
  /** CRC32 of each source buffer (what every successful completion record must carry). */
  readonly sourceCrcs: number[] = [];
  private sourceBytes: Uint8Array[] = [];

  /**
   * @param layout - where everything is.
   * @param ram - the guest's RAM.
   * @param access - the VMM's path to the device's BARs.
   */
  constructor(
    readonly layout: DmaWorkloadLayout,
    private ram: GuestmemMapping,
    private access: { vfio: VfioPciDriver; device: VfioDevice },
  ) {
    // The model keeps the last `ringSize` completions: every source and destination must recur
    // within one ring, or a destination written earlier would fall out of the prediction.
    const pow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
    if (
      !pow2(layout.ringSize) ||
      layout.ringSize % layout.sources !== 0 ||
      layout.ringSize % layout.destinations !== 0
    )
      throw new VmmConfigError(
        "the ring size must be a power of two and a multiple of sources and destinations",
        {
          ringSize: layout.ringSize,
          sources: layout.sources,
          destinations: layout.destinations,
        },
      );
  }

  /** After an update: the restored RAM mapping and the new kernel's device. */
  rebind(ram: GuestmemMapping, access: { vfio: VfioPciDriver; device: VfioDevice }): void {
    this.ram = ram;
    this.access = access;
  }

  /** Guest-physical ranges the device writes (ring records and destinations). */
  writtenRanges(): Array<{ gpa: number; length: number }> {
    const l = this.layout;
    return [
      { gpa: l.base + COMPLETIONS, length: l.ringSize * abi.COMPLETION_SIZE },
      { gpa: l.base + DESTINATIONS, length: l.destinations * l.chunk },
    ];
  }

  /** Fills the sources from `seed`, writes the ring and programs and enables the engine. */
  start(seed: number): void {
    const l = this.layout;
    const rng = new Prng(seed);
    this.sourceBytes = [];
    for (let s = 0; s < l.sources; s++) {
      const bytes = new Uint8Array(l.chunk);
      const view = new DataView(bytes.buffer);
      for (let i = 0; i < bytes.length; i += 4) view.setUint32(i, rng.int(0, 2 ** 32 - 1));
      this.ram.write(l.base + SOURCES + s * l.chunk, bytes);
      this.sourceBytes.push(bytes);
      this.sourceCrcs.push(crc32(bytes));
    }
    const ring = new Uint8Array(l.ringSize * abi.DESCRIPTOR_SIZE);
    for (let k = 0; k < l.ringSize; k++) {
      const d = abi.encodeDescriptor({
        src: l.iovaBase + l.base + SOURCES + (k % l.sources) * l.chunk,
        dst: l.iovaBase + l.base + DESTINATIONS + (k % l.destinations) * l.chunk,
        completion: l.iovaBase + l.base + COMPLETIONS + k * abi.COMPLETION_SIZE,
        length: l.chunk,
        opcode: abi.OP_COPY_CRC32,
        flags: 0,
      });
      ring.set(d, k * abi.DESCRIPTOR_SIZE);
    }
    this.ram.write(l.base + RING, ring);
    const R = abi.REG;
    const ringIova = l.iovaBase + l.base + RING;
    this.write(R.RING_BASE_LO, ringIova % 2 ** 32);
    this.write(R.RING_BASE_HI, Math.floor(ringIova / 2 ** 32));
    this.write(R.RING_SIZE, l.ringSize);
    this.write(R.IRQ_BATCH, 64);
    this.write(R.CONTROL, abi.CONTROL_ENABLE);
    this.kick();
  }

  /** Tags the engine's requests with `pasid` (a vIOMMU guest's nested translation). */
  usePasid(pasid: number): void {
    this.write(abi.REG.PASID, (abi.PASID_ENABLE | pasid) >>> 0);
  }

  /** The vCPU's work: post every descriptor the engine consumed (TAIL one behind HEAD). */
  kick(): void {
    const head = this.read(abi.REG.HEAD);
    this.write(abi.REG.TAIL, (head + this.layout.ringSize - 1) % this.layout.ringSize);
  }

  /**
   * Quiesces for a measurement: withdraws what was posted but not started (TAIL = HEAD + 1, so
   * only the descriptor in flight completes).
   */
  withdraw(): void {
    const head = this.read(abi.REG.HEAD);
    this.write(abi.REG.TAIL, (head + 1) % this.layout.ringSize);
  }

  /** Whether the engine has nothing posted or in flight. */
  get idle(): boolean {
    return (this.read(abi.REG.STATUS) & abi.STATUS_BUSY) === 0;
  }

  /** Whether the engine halted (a descriptor fetch faulted). */
  get halted(): boolean {
    return (this.read(abi.REG.STATUS) & abi.STATUS_HALTED) !== 0;
  }

  /** Where the device is now. */
  mark(): WorkloadMark {
    return { completed: this.read(abi.REG.COMPLETED), head: this.read(abi.REG.HEAD) };
  }

  /**
   * What the device wrote between `from` and `to` if it did exactly its job: for each record slot
   * the last record, for each destination the source copied last. The engine completes
   * descriptors strictly in ring order (one at a time, from HEAD), which is what makes "last" well
   * defined. Records carry status SUCCESS, the source's CRC32, the bytes and the sequence number —
   * a fault or a lost descriptor shows as a different digest.
   */
  predictedWrites(from: WorkloadMark, to: WorkloadMark): PredictedWrite[] {
    const l = this.layout;
    const n = (to.completed - from.completed) >>> 0;
    const records = new Map<number, number>();
    const destinations = new Map<number, number>();
    for (let t = Math.max(0, n - l.ringSize); t < n; t++) {
      const k = (from.head + t) % l.ringSize;
      records.set(k, (from.completed + 1 + t) >>> 0);
      destinations.set(k % l.destinations, k);
    }
    const out: PredictedWrite[] = [];
    for (const [k, sequence] of records) {
      const s = k % l.sources;
      out.push({
        gpa: l.base + COMPLETIONS + k * abi.COMPLETION_SIZE,
        bytes: abi.encodeCompletion({
          status: abi.COMPLETION_STATUS.SUCCESS,
          fault: 0,
          crc: this.sourceCrcs[s]!,
          bytes: l.chunk,
          sequence,
        }),
      });
    }
    for (const [j, k] of destinations) {
      out.push({ gpa: l.base + DESTINATIONS + j * l.chunk, bytes: this.sourceBytes[k % l.sources]! });
    }
    return out;
  }

  private read(offset: number): number {
    return this.access.vfio.mmioRead32(this.access.device, 0, offset);
  }

  private write(offset: number, value: number): void {
    this.access.vfio.mmioWrite32(this.access.device, 0, offset, value);
  }
}
