/** Pages per table leaf: one 2 MiB section's worth of 4 KiB pages. */
const LEAF_PAGES = 512;

/**
 * Sparse map from a block's head page frame number to its order, for allocators that track
 * millions of blocks: a JS `Map` caps at 2^24 entries (64 GiB of 4 KiB pages), so this keeps one
 * small `Int8Array` leaf per 2 MiB of address space that holds a block head, storing `order + 1`.
 */
export class BlockTable {
  private readonly leaves = new Map<number, Int8Array>();

  /** Order of the block whose head is `pfn`, or undefined. */
  get(pfn: number): number | undefined {
    const leaf = this.leaves.get(Math.floor(pfn / LEAF_PAGES));
    if (leaf === undefined) return undefined;
    const value = leaf[pfn % LEAF_PAGES]!;
    return value === 0 ? undefined : value - 1;
  }

  /** Records a block of `order` with head `pfn`. */
  set(pfn: number, order: number): void {
    const key = Math.floor(pfn / LEAF_PAGES);
    let leaf = this.leaves.get(key);
    if (leaf === undefined) {
      leaf = new Int8Array(LEAF_PAGES);
      this.leaves.set(key, leaf);
    }
    leaf[pfn % LEAF_PAGES] = order + 1;
  }

  /** Forgets the block with head `pfn`. */
  delete(pfn: number): void {
    const leaf = this.leaves.get(Math.floor(pfn / LEAF_PAGES));
    if (leaf !== undefined) leaf[pfn % LEAF_PAGES] = 0;
  }
}
