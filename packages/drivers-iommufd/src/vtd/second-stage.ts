import {
  decodeSecondStageEntry,
  encodeSecondStageEntry,
  levelSpan,
  type PhysAddr,
  type PhysicalMemory,
  tableIndex,
} from "@liveupdate/core";
import { HUGE_PAGE, LARGE_PAGE, SMALL_PAGE, TOP_LEVEL } from "../abi.js";
import type { TablePageSource } from "./page-source.js";

/** What one IOVA translates to in a domain's tables (a software walk, as the hardware would). */
export interface SecondStageLeaf {
  /** Host-physical address of the IOVA. */
  readonly phys: PhysAddr;
  /** Size of the leaf page (4 KiB, 2 MiB or 1 GiB). */
  readonly size: number;
  /** R. */
  readonly read: boolean;
  /** W. */
  readonly write: boolean;
}

/** Permissions of a mapping. */
export interface LeafPermissions {
  /** Device reads allowed. */
  readonly read: boolean;
  /** Device writes allowed. */
  readonly write: boolean;
}

/**
 * The 4-level second-stage page table of one paging domain, in physical memory in the VT-d format,
 * built with core's entry encoders. The only software state is the set of table pages (to preserve
 * and free them); the entries themselves are read back from memory, so a table adopted after a
 * live update is the same object as one built here.
 */
export class SecondStageTable {
  /** Every table page of the tree, the top one included. */
  readonly pages: Set<PhysAddr>;

  /**
   * @param memory - physical memory the tables live in.
   * @param source - where new table pages come from.
   * @param top - an existing top table (an adopted domain), or undefined for a fresh one.
   * @param pages - the existing tree's pages (with `top`).
   */
  constructor(
    private readonly memory: PhysicalMemory,
    private readonly source: TablePageSource,
    top?: PhysAddr,
    pages?: Iterable<PhysAddr>,
  ) {
    this.top = top ?? source.alloc();
    this.pages = new Set(pages ?? [this.top]);
  }

  /** Host-physical address of the top (level-4) table. */
  readonly top: PhysAddr;

  /**
   * Maps `[iova, iova + length)` to `[phys, phys + length)`: with `largePages`, 1 GiB leaves and
   * then 2 MiB leaves where IOVA, address and the remaining length allow (as Linux's
   * `domain->iommu_superpage`), 4 KiB leaves elsewhere. The range must be unmapped (the IOAS checks
   * this); no invalidation is needed (VT-d caches no not-present entry).
   */
  map(iova: number, phys: PhysAddr, length: number, perms: LeafPermissions, largePages: boolean): void {
    let done = 0;
    let leafTable = -1;
    let leafTableBase = -1;
    while (done < length) {
      const va = iova + done;
      const pa = phys + done;
      const fits = (size: number) =>
        largePages && va % size === 0 && pa % size === 0 && length - done >= size;
      const level = fits(HUGE_PAGE) ? 3 : fits(LARGE_PAGE) ? 2 : 1;
      const large = level > 1;
      const span = level === 3 ? HUGE_PAGE : level === 2 ? LARGE_PAGE : SMALL_PAGE;
      // Consecutive 4 KiB leaves share their level-1 table: walk once per 2 MiB, as Linux does.
      let table: PhysAddr;
      if (!large && leafTable >= 0 && Math.floor(va / LARGE_PAGE) === leafTableBase) table = leafTable;
      else {
        table = this.walkTo(va, level);
        if (!large) {
          leafTable = table;
          leafTableBase = Math.floor(va / LARGE_PAGE);
        }
      }
      this.memory.writeU64(
        table + tableIndex(va, level) * 8,
        encodeSecondStageEntry({ address: pa, read: perms.read, write: perms.write, largePage: large }),
      );
      done += span;
    }
  }

  /**
   * Clears every leaf in `[iova, iova + length)` (tables stay allocated; the IOTLB must be flushed
   * by the caller). Leaves must lie wholly inside the range (areas are unmapped whole).
   */
  unmap(iova: number, length: number): void {
    let done = 0;
    while (done < length) {
      const va = iova + done;
      const slot = this.leafSlot(va);
      if (slot === undefined) {
        done += SMALL_PAGE;
        continue;
      }
      this.memory.writeU64(slot.address, 0n);
      done += slot.size - (va % slot.size);
    }
  }

  /** The leaf `iova` translates through, or undefined when it is not mapped. */
  lookup(iova: number): SecondStageLeaf | undefined {
    const slot = this.leafSlot(iova);
    if (slot === undefined) return undefined;
    const e = decodeSecondStageEntry(this.memory.readU64(slot.address));
    return { phys: e.address + (iova % slot.size), size: slot.size, read: e.read, write: e.write };
  }

  /** Frees every table page (the domain is destroyed; no device translates through it any more). */
  destroy(): void {
    for (const page of this.pages) this.source.free(page);
    this.pages.clear();
  }

  /** The table at `level` covering `iova`, creating missing tables on the way down. */
  private walkTo(iova: number, level: number): PhysAddr {
    let table = this.top;
    for (let l = TOP_LEVEL; l > level; l--) {
      const slot = table + tableIndex(iova, l) * 8;
      const entry = this.memory.readU64(slot);
      if (entry === 0n) {
        const next = this.source.alloc();
        this.pages.add(next);
        this.memory.writeU64(slot, encodeSecondStageEntry({ address: next, read: true, write: true }));
        table = next;
      } else {
        table = decodeSecondStageEntry(entry).address;
      }
    }
    return table;
  }

  /** Address of the leaf entry mapping `iova` and its page size, or undefined. */
  private leafSlot(iova: number): { address: PhysAddr; size: number } | undefined {
    let table = this.top;
    for (let level = TOP_LEVEL; level >= 1; level--) {
      const address = table + tableIndex(iova, level) * 8;
      const entry = this.memory.readU64(address);
      if (entry === 0n) return undefined;
      const e = decodeSecondStageEntry(entry);
      if (level === 1 || e.largePage) return { address, size: levelSpan(level) };
      table = e.address;
    }
    return undefined;
  }
}
