import { closeSync, ftruncateSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { MemoryImageError } from "./errors.js";
import type { MemoryMap } from "./memory-map.js";
import { PhysicalMemory, SECTION_SIZE } from "./physical-memory.js";
import type { PhysAddr } from "./units.js";

/**
 * Writes a sparse raw memory image: byte offset in the file = physical address. Only sections
 * that hold written data are written; everything else is a hole (reads as zero from the file) —
 * including never-written sections whose fill byte is poison. The file's length is the end of the
 * memory map. Inspect it with standard tools, e.g. `dd`/`xxd` at an offset, or libfdt on the
 * handover FDT at `fdt_addr`; read it back with {@link openMemoryImage}.
 *
 * @returns bytes actually written (the image's allocated size, not its apparent size).
 */
export function exportMemoryImage(memory: PhysicalMemory, path: string): number {
  const fd = openSync(path, "w");
  let written = 0;
  try {
    for (const { base, bytes } of memory.backedSections()) {
      written += writeSync(fd, bytes, 0, bytes.length, base);
    }
    ftruncateSync(fd, memory.map.end());
  } finally {
    closeSync(fd);
  }
  return written;
}

/**
 * Opens a memory image written by {@link exportMemoryImage} (or any raw image whose file offset is
 * the physical address) as physical memory laid out by `map`, for offline inspection. Nothing is
 * read up front: each 2 MiB section is read from the file the first time it is accessed, and
 * sections that are all zeros (the image's holes) stay unbacked, so a 48 GiB image costs what the
 * handover touches. Writes change the in-memory copy only, never the file. The file is opened for
 * each section read, so nothing needs closing.
 *
 * @param path - the image file.
 * @param map - the memory map of the machine the image was taken from.
 * @throws {@link MemoryImageError} when the file cannot be read or is longer than `map` (an image
 *   of another machine).
 * @example
 * ```ts
 * const memory = openMemoryImage("out/memory.img", MemoryMap.standardX86(4 * GiB));
 * memory.readU32(bootData.fdtAddr); // 0xedfe0dd0: the FDT magic, big-endian on the wire
 * ```
 */
export function openMemoryImage(path: string, map: MemoryMap): PhysicalMemory {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (cause) {
    throw new MemoryImageError(path, "cannot be read", {}, cause);
  }
  if (size > map.end()) {
    throw new MemoryImageError(path, "is longer than the memory map ends", {
      size,
      mapEnd: map.end(),
    });
  }
  return new ImageMemory(map, path, size);
}

const ZEROS = new Uint8Array(SECTION_SIZE);

/** {@link PhysicalMemory} whose sections are read from an image file on first access. */
class ImageMemory extends PhysicalMemory {
  private readonly loaded: Uint8Array;

  constructor(
    map: MemoryMap,
    private readonly path: string,
    private readonly fileSize: number,
  ) {
    super(map);
    this.loaded = new Uint8Array(Math.ceil(map.end() / SECTION_SIZE));
  }

  override readU8(phys: PhysAddr): number {
    this.ensure(phys, 1);
    return super.readU8(phys);
  }
  override readU16(phys: PhysAddr): number {
    this.ensure(phys, 2);
    return super.readU16(phys);
  }
  override readU32(phys: PhysAddr): number {
    this.ensure(phys, 4);
    return super.readU32(phys);
  }
  override readU64(phys: PhysAddr): bigint {
    this.ensure(phys, 8);
    return super.readU64(phys);
  }
  override writeU8(phys: PhysAddr, value: number): void {
    this.ensure(phys, 1);
    super.writeU8(phys, value);
  }
  override writeU16(phys: PhysAddr, value: number): void {
    this.ensure(phys, 2);
    super.writeU16(phys, value);
  }
  override writeU32(phys: PhysAddr, value: number): void {
    this.ensure(phys, 4);
    super.writeU32(phys, value);
  }
  override writeU64(phys: PhysAddr, value: bigint): void {
    this.ensure(phys, 8);
    super.writeU64(phys, value);
  }
  override readInto(phys: PhysAddr, dest: Uint8Array): void {
    this.ensure(phys, dest.length);
    super.readInto(phys, dest);
  }
  override write(phys: PhysAddr, src: Uint8Array): void {
    this.ensure(phys, src.length);
    super.write(phys, src);
  }
  override fill(phys: PhysAddr, length: number, byte: number): void {
    this.ensure(phys, length);
    super.fill(phys, length, byte);
  }
  override view(phys: PhysAddr, length: number): Uint8Array {
    this.ensure(phys, length);
    return super.view(phys, length);
  }
  override peek(phys: PhysAddr, length: number): Uint8Array {
    this.ensure(phys, length);
    return super.peek(phys, length);
  }
  override *backedSections(): IterableIterator<{ base: PhysAddr; bytes: Uint8Array }> {
    this.ensure(0, this.map.end());
    yield* super.backedSections();
  }

  /** Loads every section `[phys, phys + length)` touches; malformed accesses are left to the base class. */
  private ensure(phys: PhysAddr, length: number): void {
    if (!Number.isSafeInteger(phys) || !Number.isSafeInteger(length) || phys < 0 || length <= 0) return;
    const last = Math.min(Math.floor((phys + length - 1) / SECTION_SIZE), this.loaded.length - 1);
    for (let s = Math.floor(phys / SECTION_SIZE); s <= last; s++) {
      if (this.loaded[s] === 0) this.load(s);
    }
  }

  private load(s: number): void {
    this.loaded[s] = 1;
    const base = s * SECTION_SIZE;
    const length = Math.min(SECTION_SIZE, this.fileSize - base);
    if (length <= 0) return;
    const bytes = new Uint8Array(length);
    const fd = openSync(this.path, "r");
    try {
      for (let done = 0; done < length; ) {
        const n = readSync(fd, bytes, done, length - done, base + done);
        if (n === 0) break;
        done += n;
      }
    } finally {
      closeSync(fd);
    }
    if (Buffer.compare(bytes, ZEROS.subarray(0, length)) === 0) return;
    // Only the parts the map covers exist (the image has zeros in holes such as the MMIO gap).
    for (const region of this.map.regions) {
      const start = Math.max(base, region.base);
      const end = Math.min(base + length, region.base + region.size);
      if (start < end) super.write(start, bytes.subarray(start - base, end - base));
    }
  }
}
