import {
  dmaEngineAbi as abi,
  type DmaEngine,
  type DmaRemapper,
  type DmaRequest,
  type DmaTranslation,
  type Machine,
  msiMessage,
  type PhysicalMemory,
} from "@liveupdate/core";
import { enable, programVector } from "./pci-fixtures.js";

/** A test remapper: a page map from IOVA pages to physical pages (one page size), faulting elsewhere. */
export class PageMapRemapper implements DmaRemapper {
  readonly pages = new Map<number, { phys: number; write: boolean }>();
  translations = 0;
  constructor(readonly pageSize: number) {}

  map(iova: number, phys: number, write = true): void {
    this.pages.set(iova / this.pageSize, { phys, write });
  }

  translate(request: DmaRequest): DmaTranslation {
    this.translations++;
    const page = Math.floor(request.iova / this.pageSize);
    const entry = this.pages.get(page);
    if (entry === undefined) return { ok: false, reason: "page-not-present" };
    if (request.write && !entry.write) return { ok: false, reason: "write-to-read-only" };
    const offset = request.iova - page * this.pageSize;
    return { ok: true, phys: entry.phys + offset, contiguous: this.pageSize - offset, untranslated: false };
  }

  /** The physical address of an IOVA (for the CPU side of a test). */
  phys(iova: number): number {
    const page = Math.floor(iova / this.pageSize);
    return this.pages.get(page)!.phys + (iova - page * this.pageSize);
  }
}

/** One posted descriptor as the test remembers it. */
export type Posted = abi.DmaDescriptor;

/**
 * The driver side of the DMA engine, as small as a test needs: the ring lives at `ringPhys` for the
 * CPU and at `ringIova` for the device; descriptors are written by the CPU, TAIL is the doorbell.
 */
export class RingDriver {
  tail = 0;
  constructor(
    readonly engine: DmaEngine,
    readonly memory: PhysicalMemory,
    readonly ringPhys: number,
    readonly ringIova: number,
    readonly size: number,
  ) {}

  /** Enables the function (BARs, command, MSI-X with `vector`), programs the ring and enables it. */
  start(machine: Machine, vector = 0x40, irqBatch = 0): void {
    enable(this.engine);
    programVector(this.engine, 0, msiMessage(vector));
    const R = abi.REG;
    this.engine.mmioWrite64(0, R.RING_BASE_LO, this.ringIova);
    this.engine.mmioWrite32(0, R.RING_SIZE, this.size);
    this.engine.mmioWrite32(0, R.IRQ_BATCH, irqBatch);
    this.engine.mmioWrite32(0, R.CONTROL, abi.CONTROL_ENABLE);
    void machine;
  }

  /** Writes a descriptor at the tail (the caller zeroes the completion record) without ringing. */
  post(d: Posted): void {
    this.memory.write(this.ringPhys + this.tail * abi.DESCRIPTOR_SIZE, abi.encodeDescriptor(d));
    this.tail = (this.tail + 1) % this.size;
  }

  /** Rings the doorbell. */
  ring(): void {
    this.engine.mmioWrite32(0, abi.REG.TAIL, this.tail);
  }
}

/** A completion record read back from memory. */
export function readCompletion(memory: PhysicalMemory, phys: number): abi.DmaCompletion {
  return abi.decodeCompletion(memory.read(phys, abi.COMPLETION_SIZE));
}
