import { encodeFirstStageEntry, PAGE_SIZE, tableIndex } from "@liveupdate/core";
import type { GuestmemMapping } from "@liveupdate/guestmemfs";
import { VmmConfigError } from "../errors.js";

/**
 * The guest's own IOMMU page tables (what a guest kernel's VT-d driver builds behind a vIOMMU):
 * 4-level first-stage tables in the IA-32e format, in the guest's RAM, every pointer
 * guest-physical. The host never copies nor rewrites them; with nested translation the hardware
 * walks them through the second stage.
 */
export class GuestFirstStageTables {
  /** Guest-physical address of the top table (what the guest programs as its first-stage pointer). */
  readonly root: number;
  private next: number;

  /**
   * @param ram - the guest's RAM (guest-physical = offset in the mapping).
   * @param pool - guest-physical range the guest keeps for its table pages.
   */
  constructor(
    private readonly ram: GuestmemMapping,
    private readonly pool: { readonly base: number; readonly size: number },
  ) {
    this.next = pool.base;
    this.root = this.allocate();
  }

  /** Maps `[iova, iova + length)` to guest-physical `gpa` with 4 KiB pages, writable. */
  map(iova: number, gpa: number, length: number): void {
    for (let at = 0; at < length; at += PAGE_SIZE) this.mapPage(iova + at, gpa + at);
  }

  /** Maps one 4 KiB page. */
  private mapPage(iova: number, gpa: number): void {
    let table = this.root;
    for (let level = 4; level > 1; level--) {
      const slot = table + tableIndex(iova, level) * 8;
      let next = Number(this.readEntry(slot) & 0x000f_ffff_ffff_f000n);
      if (next === 0) {
        next = this.allocate();
        this.ram.write(slot, u64(encodeFirstStageEntry({ address: next, present: true, writable: true })));
      }
      table = next;
    }
    const leaf = table + tableIndex(iova, 1) * 8;
    this.ram.write(leaf, u64(encodeFirstStageEntry({ address: gpa, present: true, writable: true })));
  }

  private readEntry(gpa: number): bigint {
    const b = this.ram.read(gpa, 8);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  }

  /** A zeroed table page from the pool. */
  private allocate(): number {
    const page = this.next;
    if (page + PAGE_SIZE > this.pool.base + this.pool.size)
      throw new VmmConfigError("the guest's page-table pool is full", {
        pool: this.pool.base,
        size: this.pool.size,
      });
    this.next += PAGE_SIZE;
    this.ram.write(page, new Uint8Array(PAGE_SIZE));
    return page;
  }
}

function u64(value: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, value, true);
  return b;
}
