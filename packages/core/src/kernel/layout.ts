import type { Prng } from "../common/prng.js";
import type { PhysAddr } from "../hw/units.js";

/** x86-64 `__PAGE_OFFSET_BASE_L4`: the lowest possible direct-map base. */
const PAGE_OFFSET_BASE = 0xffff_8880_0000_0000n;
/** KASLR moves the direct map in 1 GiB (PUD) steps. */
const PUD_SIZE = 1n << 30n;
/** Number of possible slots (a 10 TiB randomisation window). */
const SLOTS = 10 * 1024;

/**
 * One boot's virtual address layout. The direct map (`__va`/`__pa`) starts at a base randomised
 * per boot (KASLR), so a virtual address from one boot is garbage in the next: handover data must
 * hold physical addresses only. Virtual addresses are `bigint` (they exceed 2^53).
 *
 * @example
 * ```ts
 * const va = kernel.layout.physToVirt(0x1000);
 * kernel.layout.virtToPhys(va); // 0x1000
 * ```
 */
export class VirtualLayout {
  /** Virtual address of physical address 0 in the direct map (`PAGE_OFFSET`). */
  readonly directMapBase: bigint;
  /** One past the highest physical address the direct map covers. */
  readonly physEnd: PhysAddr;

  /**
   * @param rng - randomness for the base.
   * @param physEnd - end of physical memory.
   */
  constructor(rng: Prng, physEnd: PhysAddr) {
    this.directMapBase = PAGE_OFFSET_BASE + BigInt(rng.int(0, SLOTS - 1)) * PUD_SIZE;
    this.physEnd = physEnd;
  }

  /** Mirrors `__va()`: the direct-map virtual address of `phys`. */
  physToVirt(phys: PhysAddr): bigint {
    return this.directMapBase + BigInt(phys);
  }

  /** Mirrors `__pa()`; returns undefined for an address outside this boot's direct map. */
  virtToPhys(virt: bigint): PhysAddr | undefined {
    if (!this.isDirectMapAddress(virt)) return undefined;
    return Number(virt - this.directMapBase);
  }

  /** True when `value` is a direct-map virtual address of this boot. */
  isDirectMapAddress(value: bigint): boolean {
    return value >= this.directMapBase && value < this.directMapBase + BigInt(this.physEnd);
  }

  /**
   * True when `value` looks like a kernel virtual address of *any* boot (the canonical upper half
   * at or above the direct-map floor). Used to catch virtual addresses leaking into handover data.
   */
  static looksVirtual(value: bigint): boolean {
    return value >= PAGE_OFFSET_BASE && value <= 0xffff_ffff_ffff_ffffn;
  }

  /**
   * Offsets of every 8-byte-aligned little-endian u64 in `bytes` that looks like a kernel virtual
   * address. Handover data must hold physical addresses only (the next boot's layout differs); run
   * this over serialized state in tests to catch a leaked pointer.
   *
   * @example
   * ```ts
   * expect(VirtualLayout.findVirtualAddresses(blob)).toEqual([]);
   * ```
   */
  static findVirtualAddresses(bytes: Uint8Array): number[] {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const hits: number[] = [];
    for (let offset = 0; offset + 8 <= bytes.length; offset += 8) {
      if (VirtualLayout.looksVirtual(view.getBigUint64(offset, true))) hits.push(offset);
    }
    return hits;
  }
}
