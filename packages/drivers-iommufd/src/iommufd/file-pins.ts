import type { GuestmemFile, GuestmemfsDriver, GuestmemMapping } from "@liveupdate/guestmemfs";

interface Pin {
  mapping: GuestmemMapping;
  end: number;
  writable: boolean;
  areas: number;
}

/**
 * The guestmemfs files a context maps, pinned so they cannot shrink under DMA (as iommufd pins the
 * pages of a memfd): one file mapping per file, from offset 0 to the furthest mapped end, writable
 * when any area is. One pin per file rather than per area keeps a million small areas cheap.
 */
export class FilePins {
  private readonly pins = new Map<GuestmemFile, Pin>();

  /** @param gm - the guestmemfs driver (its `mmap` pins). */
  constructor(private readonly gm: GuestmemfsDriver) {}

  /** Pins `[0, end)` of `file` for one more area. */
  acquire(file: GuestmemFile, end: number, writable: boolean): void {
    const pin = this.pins.get(file);
    if (pin !== undefined && pin.end >= end && (pin.writable || !writable)) {
      pin.areas++;
      return;
    }
    const newEnd = Math.max(end, pin?.end ?? 0);
    const newWritable = writable || pin?.writable === true;
    const mapping = this.gm.mmap(file, { offset: 0, length: newEnd, write: newWritable });
    pin?.mapping.unmap();
    this.pins.set(file, { mapping, end: newEnd, writable: newWritable, areas: (pin?.areas ?? 0) + 1 });
  }

  /** Drops one area's pin of `file`; the mapping goes with the last. */
  release(file: GuestmemFile): void {
    const pin = this.pins.get(file);
    if (pin === undefined) return;
    if (--pin.areas > 0) return;
    pin.mapping.unmap();
    this.pins.delete(file);
  }
}
