import { RangeSet } from "../common/range-set.js";
import { PAGE_SIZE, type PhysAddr, type PhysRange } from "../hw/units.js";
import { BlockTable } from "./block-table.js";
import { BadAllocationError, BadFreeError, OutOfMemoryError } from "./errors.js";

/** Highest buddy order: blocks of 2^10 pages (4 MiB), as x86's default `MAX_PAGE_ORDER`. */
export const MAX_PAGE_ORDER = 10;

/**
 * A binary buddy page allocator over physical page frames, orders 0..{@link MAX_PAGE_ORDER}.
 *
 * Free blocks are kept per order as sets of page frame numbers; freeing a block merges it with its
 * buddy as long as the buddy is free, so freeing everything restores the initial block layout.
 * Every allocated block is remembered with its order, so frees of the wrong size, double frees and
 * queries like "is this page in use?" are exact.
 *
 * @example
 * ```ts
 * const buddy = new BuddyAllocator([{ base: 0x100000, size: 64 * MiB }]);
 * const phys = buddy.alloc(9); // one 2 MiB block
 * buddy.free(phys, 9);
 * ```
 */
export class BuddyAllocator {
  private readonly freeLists: Array<Set<number>> = [];
  private readonly allocated = new BlockTable();
  /** Every page this allocator is responsible for: its initial memory plus adopted blocks. */
  private readonly managed = new RangeSet();
  private freePageCount = 0;
  /** Pages managed (free or allocated) by this allocator. */
  readonly managedPages: number;

  /** @param ranges - free memory; need not be aligned (partial pages are dropped). */
  constructor(ranges: readonly PhysRange[]) {
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) this.freeLists.push(new Set());
    let managed = 0;
    for (const range of ranges) {
      let pfn = Math.ceil(range.base / PAGE_SIZE);
      const endPfn = Math.floor((range.base + range.size) / PAGE_SIZE);
      if (endPfn > pfn) this.managed.add(pfn * PAGE_SIZE, endPfn * PAGE_SIZE);
      while (pfn < endPfn) {
        let order = MAX_PAGE_ORDER;
        while (order > 0 && (pfn % (1 << order) !== 0 || pfn + (1 << order) > endPfn)) order--;
        this.freeLists[order]!.add(pfn);
        pfn += 1 << order;
        managed += 1 << order;
      }
    }
    this.managedPages = managed;
    this.freePageCount = managed;
  }

  /** Bytes currently free. */
  freeBytes(): number {
    return this.freePageCount * PAGE_SIZE;
  }

  /** Number of free blocks of each order (index = order). */
  freeBlockCounts(): number[] {
    return this.freeLists.map((list) => list.size);
  }

  /**
   * Allocates a naturally aligned block of `2^order` pages (mirrors `alloc_pages`).
   *
   * @returns the block's physical address.
   * @throws {@link OutOfMemoryError} when no block of that order can be formed.
   */
  alloc(order: number): PhysAddr {
    checkOrder(order);
    let from = order;
    while (from <= MAX_PAGE_ORDER && this.freeLists[from]!.size === 0) from++;
    if (from > MAX_PAGE_ORDER) throw new OutOfMemoryError("buddy", PAGE_SIZE * (1 << order));
    const list = this.freeLists[from]!;
    const pfn = list.values().next().value as number;
    list.delete(pfn);
    // Split down to the requested order, returning the upper halves to the free lists.
    while (from > order) {
      from--;
      this.freeLists[from]!.add(pfn + (1 << from));
    }
    this.allocated.set(pfn, order);
    this.freePageCount -= 1 << order;
    return pfn * PAGE_SIZE;
  }

  /**
   * Frees a block previously returned by {@link BuddyAllocator.alloc} (or adopted), merging it with
   * free buddies.
   *
   * @throws {@link BadFreeError} when the block is not allocated with exactly that order.
   */
  free(phys: PhysAddr, order: number): void {
    checkOrder(order);
    let pfn = phys / PAGE_SIZE;
    if (!Number.isInteger(pfn)) throw new BadFreeError(phys, order, "address not page aligned");
    const allocatedOrder = this.allocated.get(pfn);
    if (allocatedOrder === undefined) throw new BadFreeError(phys, order, "block is not allocated");
    if (allocatedOrder !== order) {
      throw new BadFreeError(phys, order, `block was allocated with order ${allocatedOrder}`);
    }
    this.allocated.delete(pfn);
    this.freePageCount += 1 << order;
    while (order < MAX_PAGE_ORDER) {
      const buddy = pfn % (2 * (1 << order)) === 0 ? pfn + (1 << order) : pfn - (1 << order);
      const list = this.freeLists[order]!;
      if (!list.has(buddy)) break;
      list.delete(buddy);
      pfn = Math.min(pfn, buddy);
      order++;
    }
    this.freeLists[order]!.add(pfn);
  }

  /**
   * Marks a block that this allocator does not manage as allocated, so that it can later be freed
   * into the allocator. Used when a kernel takes ownership of memory it restored from a handover.
   */
  adopt(phys: PhysAddr, order: number): void {
    checkOrder(order);
    const pfn = phys / PAGE_SIZE;
    if (!Number.isInteger(pfn) || pfn % (1 << order) !== 0) {
      throw new BadAllocationError("adopted block alignment", phys);
    }
    const size = PAGE_SIZE * (1 << order);
    // A block the allocator already manages (free, allocated, or adopted before) would end up in
    // two places at once; only memory from outside (a restored handover folio) may be adopted.
    if (this.managed.overlaps(phys, size))
      throw new BadAllocationError("adopting memory the allocator already manages", phys);
    this.managed.add(phys, phys + size);
    this.allocated.set(pfn, order);
  }

  /** The allocated block containing `phys`, or undefined when that page is free or unmanaged. */
  allocatedBlockAt(phys: PhysAddr): { base: PhysAddr; order: number } | undefined {
    const pfn = Math.floor(phys / PAGE_SIZE);
    const order = this.orderOfBlockContaining(pfn);
    if (order < 0) return undefined;
    return { base: (pfn - (pfn % (1 << order))) * PAGE_SIZE, order };
  }

  /** True when every page of `[phys, phys + size)` belongs to an allocated block. */
  isAllocated(phys: PhysAddr, size: number): boolean {
    let pfn = Math.floor(phys / PAGE_SIZE);
    const end = Math.ceil((phys + size) / PAGE_SIZE);
    while (pfn < end) {
      const order = this.orderOfBlockContaining(pfn);
      if (order < 0) return false;
      pfn = pfn - (pfn % (1 << order)) + (1 << order);
    }
    return true;
  }

  /** Order of the allocated block containing page `pfn`, or -1 (hot: no allocation). */
  private orderOfBlockContaining(pfn: number): number {
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      if (this.allocated.get(pfn - (pfn % (1 << order))) === order) return order;
    }
    return -1;
  }
}

function checkOrder(order: number): void {
  if (!Number.isInteger(order) || order < 0 || order > MAX_PAGE_ORDER) {
    throw new BadAllocationError("order", order);
  }
}
