import type { PhysicalMemory } from "../hw/physical-memory.js";
import { PAGE_SIZE, type PhysAddr } from "../hw/units.js";
import { KHO_MEM_PHYS_BITS_SIZE, PRESERVE_BITS } from "./abi.js";

/** One preservation bitmap: which `order` and which 4096-folio window it covers, and where it lives. */
export interface TrackedBitmap {
  /** Folio order of every bit. */
  readonly order: number;
  /** Bitmap index: bit `b` is the folio at pfn `((index * PRESERVE_BITS) + b) << order`. */
  readonly index: number;
  /** Physical address of the 512-byte `struct kho_mem_phys_bits`. */
  readonly phys: PhysAddr;
}

const BITMAPS_PER_PAGE = PAGE_SIZE / KHO_MEM_PHYS_BITS_SIZE;

/**
 * Outgoing preservation tracking (mirrors `struct kho_mem_track`): per order, a sparse set of
 * 512-byte bitmaps indexed by `(pfn >> order) / PRESERVE_BITS`. The bitmaps live in *physical
 * memory* (carved 8 to a page from kernel pages, as `kzalloc(512)` would), so the serialized
 * memory map just points at them — exactly what the next kernel reads.
 */
export class PreservationTracker {
  private readonly orders = new Map<number, Map<number, PhysAddr>>();
  private readonly slabPages: PhysAddr[] = [];
  private slabUsed = BITMAPS_PER_PAGE;
  private readonly folios: number[] = [];

  /**
   * @param memory - where bitmaps live.
   * @param allocPage - allocates a zero-initialised-or-not kernel page (it is zeroed here).
   */
  constructor(
    private readonly memory: PhysicalMemory,
    private readonly allocPage: () => PhysAddr,
  ) {}

  /** Number of preserved folios of `order`. */
  folioCount(order: number): number {
    return this.folios[order] ?? 0;
  }

  /** Total preserved folios of all orders. */
  totalFolios(): number {
    return this.folios.reduce((a, b) => a + (b ?? 0), 0);
  }

  /** Total preserved bytes. */
  preservedBytes(): number {
    let total = 0;
    this.folios.forEach((count, order) => {
      total += (count ?? 0) * PAGE_SIZE * (1 << order);
    });
    return total;
  }

  /** Pages holding bitmaps (handover metadata that must survive the reboot unpoisoned). */
  bitmapPages(): readonly PhysAddr[] {
    return this.slabPages;
  }

  /** Is the folio of `order` at `pfn` preserved? */
  test(pfn: number, order: number): boolean {
    const high = pfn / (1 << order);
    const bitmap = this.orders.get(order)?.get(Math.floor(high / PRESERVE_BITS));
    if (bitmap === undefined) return false;
    const bit = high % PRESERVE_BITS;
    return (this.memory.readU8(bitmap + (bit >>> 3)) & (1 << (bit & 7))) !== 0;
  }

  /** Marks the folio preserved (mirrors `__kho_preserve_order`). */
  set(pfn: number, order: number): void {
    const high = pfn / (1 << order);
    const index = Math.floor(high / PRESERVE_BITS);
    let bitmaps = this.orders.get(order);
    if (bitmaps === undefined) {
      bitmaps = new Map();
      this.orders.set(order, bitmaps);
    }
    let bitmap = bitmaps.get(index);
    if (bitmap === undefined) {
      bitmap = this.allocBitmap();
      bitmaps.set(index, bitmap);
    }
    const bit = high % PRESERVE_BITS;
    const at = bitmap + (bit >>> 3);
    this.memory.writeU8(at, this.memory.readU8(at) | (1 << (bit & 7)));
    this.folios[order] = (this.folios[order] ?? 0) + 1;
  }

  /** Clears the folio's bit (mirrors `__kho_unpreserve_order`); the bitmap itself stays allocated. */
  clear(pfn: number, order: number): void {
    const high = pfn / (1 << order);
    const bitmap = this.orders.get(order)?.get(Math.floor(high / PRESERVE_BITS));
    if (bitmap === undefined) return;
    const bit = high % PRESERVE_BITS;
    const at = bitmap + (bit >>> 3);
    this.memory.writeU8(at, this.memory.readU8(at) & ~(1 << (bit & 7)));
    this.folios[order] = (this.folios[order] ?? 1) - 1;
  }

  /** True when any folio of `order` with `pfn >> order` in `[highFrom, highTo)` is preserved. */
  anyInRange(order: number, highFrom: number, highTo: number): boolean {
    const bitmaps = this.orders.get(order);
    if (bitmaps === undefined) return false;
    for (let high = highFrom; high < highTo; ) {
      const index = Math.floor(high / PRESERVE_BITS);
      const windowEnd = Math.min(highTo, (index + 1) * PRESERVE_BITS);
      const bitmap = bitmaps.get(index);
      if (bitmap !== undefined) {
        let bit = high % PRESERVE_BITS;
        const endBit = windowEnd - index * PRESERVE_BITS;
        while (bit < endBit) {
          // Whole bytes at once when the range covers them (order-10 checks span ~1000 bits).
          if ((bit & 7) === 0 && bit + 8 <= endBit) {
            if (this.memory.readU8(bitmap + (bit >>> 3)) !== 0) return true;
            bit += 8;
          } else {
            if ((this.memory.readU8(bitmap + (bit >>> 3)) & (1 << (bit & 7))) !== 0) return true;
            bit++;
          }
        }
      }
      high = windowEnd;
    }
    return false;
  }

  /** All bitmaps, ascending by order then by index (the order `kho_mem_serialize` walks them). */
  bitmaps(): TrackedBitmap[] {
    const out: TrackedBitmap[] = [];
    for (const order of [...this.orders.keys()].sort((a, b) => a - b)) {
      const bitmaps = this.orders.get(order)!;
      for (const index of [...bitmaps.keys()].sort((a, b) => a - b)) {
        out.push({ order, index, phys: bitmaps.get(index)! });
      }
    }
    return out;
  }

  /**
   * Every preserved folio as `{ phys, order }`, ascending by order then address. Reads the
   * bitmaps from memory (what the next kernel would see).
   */
  *preservedFolios(): IterableIterator<{ phys: PhysAddr; order: number }> {
    for (const { order, index, phys } of this.bitmaps()) {
      const bits = this.memory.read(phys, KHO_MEM_PHYS_BITS_SIZE);
      for (let byte = 0; byte < bits.length; byte++) {
        const value = bits[byte]!;
        if (value === 0) continue;
        for (let b = 0; b < 8; b++) {
          if ((value & (1 << b)) === 0) continue;
          const high = index * PRESERVE_BITS + byte * 8 + b;
          yield { phys: high * (1 << order) * PAGE_SIZE, order };
        }
      }
    }
  }

  private allocBitmap(): PhysAddr {
    if (this.slabUsed === BITMAPS_PER_PAGE) {
      const page = this.allocPage();
      this.memory.fill(page, PAGE_SIZE, 0);
      this.slabPages.push(page);
      this.slabUsed = 0;
    }
    const phys = this.slabPages[this.slabPages.length - 1]! + this.slabUsed * KHO_MEM_PHYS_BITS_SIZE;
    this.slabUsed++;
    return phys;
  }
}
