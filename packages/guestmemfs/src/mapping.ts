import type { Kernel, PhysicalMemory } from "@liveupdate/core";
import { F_SEAL_WRITE } from "./abi.js";
import { GuestmemfsRangeError, GuestmemfsSealedError, GuestmemfsUnlinkedError } from "./errors.js";
import type { GuestmemFile } from "./file.js";

/** One physically contiguous piece of a mapping: guest-physical → host-physical. */
export interface MappedExtent {
  /** Guest-physical address (the mapping's guest base plus the offset in the mapping). */
  readonly guestPhys: number;
  /** Host-physical address of the same byte. */
  readonly hostPhys: number;
  /** Bytes. */
  readonly size: number;
}

/**
 * A mapping of a range of a guestmemfs file (what `mmap` returns). A VMM uses it as guest RAM
 * (`extents(guestBase)` is the guest-physical → host-physical table it installs in stage-2 page
 * tables, and what iommufd maps for DMA). Reads and writes go straight to physical memory: they
 * never go through the kernel's phase guards, so VMs keep running during brownout.
 */
export class GuestmemMapping {
  private live = true;

  /**
   * @param file - the mapped file.
   * @param offset - offset of the mapping in the file (4 KiB aligned).
   * @param length - bytes mapped.
   * @param writable - whether writes are allowed through this mapping.
   * @param kernel - the kernel the mapping was made in (it dies with it).
   */
  constructor(
    readonly file: GuestmemFile,
    readonly offset: number,
    readonly length: number,
    readonly writable: boolean,
    private readonly kernel: Kernel,
  ) {}

  /** Whether the mapping is still mapped. */
  get mapped(): boolean {
    return this.live;
  }

  /**
   * The mapping's physical extents, in order, as the guest sees them when the mapping is its RAM
   * at `guestBase` (default 0: offsets in the mapping).
   */
  extents(guestBase = 0): MappedExtent[] {
    this.check(0, this.length);
    const out: MappedExtent[] = [];
    let at = 0;
    while (at < this.length) {
      const { phys, contiguous } = this.file.locate(this.offset + at);
      const size = Math.min(contiguous, this.length - at);
      out.push({ guestPhys: guestBase + at, hostPhys: phys, size });
      at += size;
    }
    return out;
  }

  /** Host-physical address of byte `offset` of the mapping. */
  translate(offset: number): number {
    this.check(offset, 1);
    return this.file.locate(this.offset + offset).phys;
  }

  /** Reads `length` bytes at `offset` of the mapping, from physical memory. */
  read(offset: number, length: number): Uint8Array {
    this.check(offset, length);
    const out = new Uint8Array(length);
    const memory = this.memory();
    this.pieces(offset, length, (phys, at, size) => {
      out.set(memory.read(phys, size), at);
    });
    return out;
  }

  /** Writes `bytes` at `offset` of the mapping, into physical memory. */
  write(offset: number, bytes: Uint8Array): void {
    this.check(offset, bytes.length);
    if (!this.writable || (this.file.seals & F_SEAL_WRITE) !== 0) {
      throw new GuestmemfsSealedError(`${this.file.name}: mapping is not writable`, {
        name: this.file.name,
        ino: this.file.ino,
      });
    }
    const memory = this.memory();
    this.pieces(offset, bytes.length, (phys, at, size) => {
      memory.write(phys, bytes.subarray(at, at + size));
    });
  }

  /** Unmaps (munmap): the mapping can no longer be used. Idempotent. */
  unmap(): void {
    if (!this.live) return;
    this.live = false;
    if (this.writable) this.file.writableMappings--;
    const ends = this.file.mappedEnds;
    ends.splice(ends.indexOf(this.offset + this.length), 1);
  }

  private memory(): PhysicalMemory {
    return this.kernel.machine.memory;
  }

  private pieces(offset: number, length: number, fn: (phys: number, at: number, size: number) => void): void {
    let at = 0;
    while (at < length) {
      const { phys, contiguous } = this.file.locate(this.offset + offset + at);
      const size = Math.min(contiguous, length - at);
      fn(phys, at, size);
      at += size;
    }
  }

  private check(offset: number, length: number): void {
    this.kernel.assertAlive("guestmemfs mapping");
    const where = { name: this.file.name, ino: this.file.ino, offset, length };
    if (!this.live) throw new GuestmemfsRangeError(`${this.file.name}: mapping was unmapped`, where);
    if (this.file.unlinked) throw new GuestmemfsUnlinkedError(`${this.file.name}: file was unlinked`, where);
    const ok =
      Number.isSafeInteger(offset) &&
      Number.isSafeInteger(length) &&
      offset >= 0 &&
      length >= 0 &&
      offset + length <= this.length &&
      this.offset + offset + length <= this.file.size;
    if (!ok)
      throw new GuestmemfsRangeError(`${this.file.name}: access outside the mapping or the file`, where);
  }
}
