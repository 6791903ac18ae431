import type { PreservedFolio } from "../driver/contexts.js";
import type { PhysicalMemory } from "../hw/physical-memory.js";
import { PAGE_SIZE, type PhysAddr, type PhysRange } from "../hw/units.js";
import { MAX_PAGE_ORDER } from "../kernel/buddy.js";
import type { Kernel } from "../kernel/kernel.js";
import type { Kho } from "../kho/kho.js";
import { splitIntoFolios } from "../kho/outgoing.js";
import type { SchemaMemory } from "../schema/memory/memory.js";
import { LuoHandoverCorruptError } from "./errors.js";

/**
 * Preserved memory the orchestrator encodes state into (a `SchemaMemory` for the codecs): folios
 * allocated from the page allocator, preserved through KHO, and bump-allocated. One arena per object
 * (and one for the orchestrator's own handover), so cancelling or re-serializing one object releases
 * exactly its pages.
 *
 * @internal
 */
export class PreservedArena implements SchemaMemory {
  private readonly blocks: { phys: PhysAddr; order: number; size: number; used: number }[] = [];
  private readonly memory: PhysicalMemory;

  constructor(
    private readonly kernel: Kernel,
    private readonly kho: Kho,
  ) {
    this.memory = kernel.machine.memory;
  }

  /** The folios of the arena. */
  get folios(): PreservedFolio[] {
    return this.blocks.map((b) => ({ phys: b.phys, order: b.order }));
  }

  /** Bytes of preserved pages the arena holds. */
  get bytes(): number {
    let total = 0;
    for (const b of this.blocks) total += b.size;
    return total;
  }

  allocate(size: number, align: number): number {
    const current = this.blocks[this.blocks.length - 1];
    if (current !== undefined) {
      const offset = Math.ceil(current.used / align) * align;
      if (offset + size <= current.size) {
        current.used = offset + size;
        return current.phys + offset;
      }
    }
    const need = Math.max(size, align, 1);
    let order = 0;
    while (PAGE_SIZE * 2 ** order < need && order < MAX_PAGE_ORDER) order++;
    const phys = this.kernel.allocPages(order);
    const bytes = PAGE_SIZE * 2 ** order;
    this.memory.fill(phys, bytes, 0);
    try {
      this.kho.preserveFolio(phys, order);
    } catch (error) {
      this.kernel.freePages(phys, order);
      throw error;
    }
    this.blocks.push({ phys, order, size: bytes, used: size });
    return phys;
  }

  write(phys: number, bytes: Uint8Array): void {
    this.memory.write(phys, bytes);
  }

  read(phys: number, length: number): Uint8Array {
    return this.memory.read(phys, length);
  }

  isPreserved(phys: number, length: number): boolean {
    return this.kho.outgoing.isPreserved(phys, length);
  }

  /** Unpreserves and frees every folio (cancel, or replaced by a re-serialization). */
  release(): void {
    while (this.blocks.length > 0) {
      const b = this.blocks.pop()!;
      this.kho.unpreserveFolio(b.phys, b.order);
      this.kernel.freePages(b.phys, b.order);
    }
  }
}

/**
 * Read-only `SchemaMemory` over handover data in the new kernel: only the given ranges (the
 * folios the old kernel listed for one object, each checked to be preserved with that order) may
 * be read, so a decode can never follow a pointer into another object's memory.
 *
 * @internal
 */
export class HandoverReader implements SchemaMemory {
  private readonly ranges: PhysRange[];

  constructor(
    private readonly memory: PhysicalMemory,
    ranges: readonly PhysRange[],
  ) {
    this.ranges = [...ranges].sort((a, b) => a.base - b.base);
  }

  read(phys: number, length: number): Uint8Array {
    return this.memory.read(phys, length);
  }

  write(): void {
    throw new LuoHandoverCorruptError("handover memory is read-only during restore");
  }

  allocate(): number {
    throw new LuoHandoverCorruptError("handover memory cannot be allocated during restore");
  }

  isPreserved(phys: number, length: number): boolean {
    if (!Number.isSafeInteger(phys) || !Number.isSafeInteger(length) || length <= 0) return false;
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.ranges[mid]!;
      if (phys < r.base) hi = mid - 1;
      else if (phys >= r.base + r.size) lo = mid + 1;
      else {
        // A value may straddle two adjacent folios.
        let end = r.base + r.size;
        let i = mid + 1;
        while (phys + length > end && i < this.ranges.length && this.ranges[i]!.base === end) {
          end += this.ranges[i]!.size;
          i++;
        }
        return phys + length <= end;
      }
    }
    return false;
  }
}

/** Bytes of a folio of `order`. */
export function folioBytes(order: number): number {
  return PAGE_SIZE * 2 ** order;
}

/** Splits a page range into the natural folios `kho_preserve_pages` would use. */
export function pagesToFolios(phys: PhysAddr, nrPages: number): PreservedFolio[] {
  return splitIntoFolios(phys, nrPages * PAGE_SIZE);
}
