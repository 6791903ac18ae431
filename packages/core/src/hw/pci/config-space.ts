import { PciAccessError } from "./errors.js";

/**
 * The bytes of one function's config space with a per-bit write mask: a write changes only the
 * bits its mask allows (read-only ids stay put, BAR address bits below the BAR's size stay 0 —
 * which is exactly what BAR sizing reads back). Side effects of writes (FLR, MSI-X enable) are the
 * function's job; this is storage.
 */
export class ConfigSpace {
  /** The current contents (little-endian, as the bus returns them). */
  readonly bytes: Uint8Array;
  private readonly writable: Uint8Array;
  private readonly view: DataView;

  /**
   * @param size - 256 (conventional) or 4096 (PCI Express).
   * @param owner - the function's BDF, for errors.
   */
  constructor(
    size: number,
    private readonly owner: string,
  ) {
    this.bytes = new Uint8Array(size);
    this.writable = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Reads a naturally aligned 1-, 2- or 4-byte register. @throws {@link PciAccessError} */
  read(offset: number, size: 1 | 2 | 4): number {
    this.check("config read", offset, size);
    if (size === 1) return this.bytes[offset]!;
    if (size === 2) return this.view.getUint16(offset, true);
    return this.view.getUint32(offset, true);
  }

  /** Writes a naturally aligned register through the write mask. @throws {@link PciAccessError} */
  write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.check("config write", offset, size);
    for (let i = 0; i < size; i++) {
      const mask = this.writable[offset + i]!;
      const byte = (value >>> (8 * i)) & 0xff;
      this.bytes[offset + i] = (this.bytes[offset + i]! & ~mask) | (byte & mask);
    }
  }

  /** Sets a register's value directly (device-side initialisation; ignores the write mask). */
  set(offset: number, size: 1 | 2 | 4, value: number): void {
    if (size === 1) this.bytes[offset] = value & 0xff;
    else if (size === 2) this.view.setUint16(offset, value & 0xffff, true);
    else this.view.setUint32(offset, value >>> 0, true);
  }

  /** Declares which bits of a register software may write. */
  setWritable(offset: number, size: 1 | 2 | 4, mask: number): void {
    for (let i = 0; i < size; i++) this.writable[offset + i] = (mask >>> (8 * i)) & 0xff;
  }

  private check(what: string, offset: number, size: number): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + size > this.bytes.length || offset % size !== 0) {
      throw new PciAccessError(this.owner, what, offset, size);
    }
  }
}
