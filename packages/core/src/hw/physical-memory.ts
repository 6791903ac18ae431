import { BadAccessError, NotMemoryError, ViewStraddlesSectionError } from "./errors.js";
import type { MemoryMap } from "./memory-map.js";
import { PendingFills } from "./pending-fills.js";
import type { PhysAddr } from "./units.js";

/** Bytes per backing section: one PMD-size (2 MiB) chunk, allocated on first write. */
export const SECTION_SIZE = 2 * 1024 * 1024;
const SECTION_MASK = SECTION_SIZE - 1;

/** Granularity at which pending fills are applied (a page). */
const PAGE_BYTES = 4096;
/** Partial fills of backed sections up to this size are done at once instead of tracked. */
const EAGER_FILL_BYTES = 16 * 1024;
/** Pending ranges per section beyond which the section's pending fills are all applied. */
const MAX_PENDING_RANGES = 512;
/** Most sections given one shared buffer by a write (1 GiB; bounds a single host allocation). */
const MAX_RUN_SECTIONS = 512;

/** Section is not covered by any region: every access fails. */
const NOT_MEMORY = 0;
/** Section lies entirely inside one region: accesses need no further check. */
const FULL = 1;
/** Section is partly covered: check the memory map byte-exactly. */
const PARTIAL = 2;

/**
 * Sparse emulated physical memory, little-endian, addressed by physical address.
 *
 * Backing is allocated per 2 MiB section on first write, so a 1 TiB machine costs only what is
 * touched. The sections one write gives backing share one buffer (up to 1 GiB), in address order,
 * so that later bulk copies over them are one host copy instead of one per section: a single large
 * copy is markedly faster, as the host's memcpy switches to non-temporal stores above a size (tens
 * of MiB with x86 glibc) that a 2 MiB copy never reaches. A shared buffer is freed when the last of
 * its sections is released. A section never written reads as its *fill byte*: 0 at power-on, or
 * the poison byte when a kexec poisoned it — poisoning whole sections is O(1) and allocates
 * nothing. Fills of parts of a section (poison around preserved pages, zeroed pages) are applied
 * when that part is first read, and dropped when it is overwritten first.
 *
 * Accesses outside the memory map throw {@link NotMemoryError}; malformed addresses or lengths
 * throw {@link BadAccessError}. Multi-byte accesses may straddle sections.
 *
 * @example
 * ```ts
 * const memory = new PhysicalMemory(MemoryMap.standardX86(64 * GiB));
 * memory.writeU64(0x10_0000, 0x1122334455667788n);
 * memory.readU32(0x10_0004); // 0x11223344
 * memory.backedBytes(); // 2 MiB: one section touched
 * ```
 */
export class PhysicalMemory {
  /** The memory map this memory implements. */
  readonly map: MemoryMap;
  private readonly sections: Array<Uint8Array | undefined> = [];
  private readonly views: Array<DataView | undefined> = [];
  private readonly fillBytes: Uint8Array;
  /** Partial-section fills not applied yet, per section. */
  private readonly pending: Array<PendingFills | undefined> = [];
  /**
   * Sections a {@link PhysicalMemory.view} was handed out for: views are live and may be kept, so
   * fills of these sections are applied at once (a pending fill would be invisible through them).
   */
  private readonly viewed: Uint8Array;
  private readonly coverage: Uint8Array;
  private readonly scratch = new DataView(new ArrayBuffer(8));
  private readonly scratchBytes = new Uint8Array(this.scratch.buffer);

  /** @param map - regions that exist; everything else is not memory. */
  constructor(map: MemoryMap) {
    this.map = map;
    const count = Math.ceil(map.end() / SECTION_SIZE);
    this.fillBytes = new Uint8Array(count);
    this.viewed = new Uint8Array(count);
    this.coverage = new Uint8Array(count);
    for (const region of map.regions) {
      const first = Math.floor(region.base / SECTION_SIZE);
      const last = Math.floor((region.base + region.size - 1) / SECTION_SIZE);
      for (let s = first; s <= last; s++) {
        const start = s * SECTION_SIZE;
        const whole = region.base <= start && region.base + region.size >= start + SECTION_SIZE;
        this.coverage[s] = whole ? FULL : PARTIAL;
      }
    }
  }

  /** Bytes of host memory currently allocated to back emulated memory. */
  backedBytes(): number {
    let sections = 0;
    for (const s of this.sections) if (s !== undefined) sections++;
    return sections * SECTION_SIZE;
  }

  /**
   * The sections that hold written data, as `{ base, bytes }` views (not copies) in address
   * order. Sections never written (holes) are skipped; used to export sparse memory images.
   */
  *backedSections(): IterableIterator<{ base: PhysAddr; bytes: Uint8Array }> {
    for (let s = 0; s < this.pending.length; s++)
      if (this.pending[s] !== undefined) this.settle(s, 0, SECTION_SIZE);
    for (let s = 0; s < this.sections.length; s++) {
      const bytes = this.sections[s];
      if (bytes !== undefined) yield { base: s * SECTION_SIZE, bytes };
    }
  }

  /** The byte a never-written location of `phys`'s section reads as (0, or poison after kexec). */
  fillByteAt(phys: PhysAddr): number {
    return this.fillBytes[Math.floor(phys / SECTION_SIZE)] ?? 0;
  }

  /**
   * The byte every location of 2 MiB section `phys` (section-aligned) reads as, when the section has
   * no backing and nothing pending — it was never written since power-on or since a kexec poisoned
   * it — else `undefined` (read it). Lets a scan over a large sparse range (a checksum of a VM's
   * RAM) handle untouched sections without materialising them.
   *
   * @throws {@link BadAccessError} when `phys` is not section-aligned; {@link NotMemoryError} when the
   *   section is not wholly memory.
   * @example
   * ```ts
   * memory.uniformSectionByte(0x4000_0000); // 0: never written
   * memory.writeU8(0x4000_0010, 7);
   * memory.uniformSectionByte(0x4000_0000); // undefined: it holds data
   * ```
   */
  uniformSectionByte(phys: PhysAddr): number | undefined {
    if (!Number.isSafeInteger(phys) || phys % SECTION_SIZE !== 0) {
      throw new BadAccessError("section address (not 2 MiB aligned)", phys);
    }
    const s = this.checked(phys, SECTION_SIZE);
    if (this.sections[s] !== undefined || this.pending[s] !== undefined) return undefined;
    return this.fillBytes[s]!;
  }

  // ---- scalar accesses -------------------------------------------------------------------------

  /** Reads one byte. */
  readU8(phys: PhysAddr): number {
    const s = this.checked(phys, 1);
    if (this.pending[s] !== undefined) this.settle(s, phys & SECTION_MASK, 1);
    const bytes = this.sections[s];
    return bytes === undefined ? this.fillBytes[s]! : bytes[phys & SECTION_MASK]!;
  }

  /** Reads a little-endian u16. */
  readU16(phys: PhysAddr): number {
    const s = this.checked(phys, 2);
    const offset = phys & SECTION_MASK;
    if (this.pending[s] !== undefined) this.settle(s, offset, 2);
    const view = this.views[s];
    if (view !== undefined && offset <= SECTION_SIZE - 2) return view.getUint16(offset, true);
    this.readSlow(phys, 2);
    return this.scratch.getUint16(0, true);
  }

  /** Reads a little-endian u32. */
  readU32(phys: PhysAddr): number {
    const s = this.checked(phys, 4);
    const offset = phys & SECTION_MASK;
    if (this.pending[s] !== undefined) this.settle(s, offset, 4);
    const view = this.views[s];
    if (view !== undefined && offset <= SECTION_SIZE - 4) return view.getUint32(offset, true);
    this.readSlow(phys, 4);
    return this.scratch.getUint32(0, true);
  }

  /** Reads a little-endian u64 as a `bigint`. */
  readU64(phys: PhysAddr): bigint {
    const s = this.checked(phys, 8);
    const offset = phys & SECTION_MASK;
    if (this.pending[s] !== undefined) this.settle(s, offset, 8);
    const view = this.views[s];
    if (view !== undefined && offset <= SECTION_SIZE - 8) return view.getBigUint64(offset, true);
    this.readSlow(phys, 8);
    return this.scratch.getBigUint64(0, true);
  }

  /** Writes one byte; `value` must be an integer in 0..255 ({@link BadAccessError} otherwise). */
  writeU8(phys: PhysAddr, value: number): void {
    if ((value & 0xff) !== value) throw new BadAccessError("u8 value", value);
    const s = this.checked(phys, 1);
    const bytes = this.backing(s);
    if (this.pending[s] !== undefined) this.discard(s, phys & SECTION_MASK, 1);
    bytes[phys & SECTION_MASK] = value;
  }

  /** Writes a little-endian u16. */
  writeU16(phys: PhysAddr, value: number): void {
    if ((value & 0xffff) !== value) throw new BadAccessError("u16 value", value);
    const s = this.checked(phys, 2);
    const offset = phys & SECTION_MASK;
    if (offset <= SECTION_SIZE - 2) {
      this.backing(s);
      if (this.pending[s] !== undefined) this.discard(s, offset, 2);
      this.views[s]!.setUint16(offset, value, true);
      return;
    }
    this.scratch.setUint16(0, value, true);
    this.write(phys, this.scratchBytes.subarray(0, 2));
  }

  /** Writes a little-endian u32. */
  writeU32(phys: PhysAddr, value: number): void {
    if (value >>> 0 !== value) throw new BadAccessError("u32 value", value);
    const s = this.checked(phys, 4);
    const offset = phys & SECTION_MASK;
    if (offset <= SECTION_SIZE - 4) {
      this.backing(s);
      if (this.pending[s] !== undefined) this.discard(s, offset, 4);
      this.views[s]!.setUint32(offset, value, true);
      return;
    }
    this.scratch.setUint32(0, value, true);
    this.write(phys, this.scratchBytes.subarray(0, 4));
  }

  /** Writes a little-endian u64 (`bigint` in 0..2^64-1). */
  writeU64(phys: PhysAddr, value: bigint): void {
    if (typeof value !== "bigint" || value < 0n || value > 0xffff_ffff_ffff_ffffn) {
      throw new BadAccessError("u64 value", value);
    }
    const s = this.checked(phys, 8);
    const offset = phys & SECTION_MASK;
    if (offset <= SECTION_SIZE - 8) {
      this.backing(s);
      if (this.pending[s] !== undefined) this.discard(s, offset, 8);
      this.views[s]!.setBigUint64(offset, value, true);
      return;
    }
    this.scratch.setBigUint64(0, value, true);
    this.write(phys, this.scratchBytes.subarray(0, 8));
  }

  // ---- bulk accesses ---------------------------------------------------------------------------

  /** Copies `length` bytes starting at `phys` into a new array. */
  read(phys: PhysAddr, length: number): Uint8Array {
    this.checkRange(phys, length);
    const out = new Uint8Array(length);
    this.readInto(phys, out);
    return out;
  }

  /** Copies `dest.length` bytes starting at `phys` into `dest`. */
  readInto(phys: PhysAddr, dest: Uint8Array): void {
    this.checkRange(phys, dest.length);
    let done = 0;
    while (done < dest.length) {
      const addr = phys + done;
      const s = Math.floor(addr / SECTION_SIZE);
      const offset = addr - s * SECTION_SIZE;
      let chunk = Math.min(SECTION_SIZE - offset, dest.length - done);
      if (this.pending[s] !== undefined) this.settle(s, offset, chunk);
      const bytes = this.sections[s];
      if (bytes === undefined) {
        dest.fill(this.fillBytes[s]!, done, done + chunk);
        done += chunk;
        continue;
      }
      for (let t = s; done + chunk < dest.length && this.contiguous(t); t++) {
        const more = Math.min(SECTION_SIZE, dest.length - done - chunk);
        if (this.pending[t + 1] !== undefined) this.settle(t + 1, 0, more);
        chunk += more;
      }
      dest.set(this.span(bytes, offset, chunk), done);
      done += chunk;
    }
  }

  /** Copies `src` into memory starting at `phys`. */
  write(phys: PhysAddr, src: Uint8Array): void {
    this.checkRange(phys, src.length);
    if (src.length > SECTION_SIZE - (phys & SECTION_MASK)) {
      this.backRuns(Math.floor(phys / SECTION_SIZE), Math.floor((phys + src.length - 1) / SECTION_SIZE));
    }
    let done = 0;
    while (done < src.length) {
      const addr = phys + done;
      const s = Math.floor(addr / SECTION_SIZE);
      const offset = addr - s * SECTION_SIZE;
      let chunk = Math.min(SECTION_SIZE - offset, src.length - done);
      const bytes = this.backing(s);
      if (this.pending[s] !== undefined) this.discard(s, offset, chunk);
      for (let t = s; done + chunk < src.length && this.contiguous(t); t++) {
        const more = Math.min(SECTION_SIZE, src.length - done - chunk);
        if (this.pending[t + 1] !== undefined) this.discard(t + 1, 0, more);
        chunk += more;
      }
      const part = done === 0 && chunk === src.length ? src : src.subarray(done, done + chunk);
      if (offset + chunk <= SECTION_SIZE) bytes.set(part, offset);
      else this.span(bytes, offset, chunk).set(part);
      done += chunk;
    }
  }

  /**
   * Sets `length` bytes at `phys` to `byte`. Whole sections are filled lazily: their backing is
   * released and they read as `byte` until written again.
   */
  fill(phys: PhysAddr, length: number, byte: number): void {
    this.checkRange(phys, length);
    let done = 0;
    while (done < length) {
      const addr = phys + done;
      const s = Math.floor(addr / SECTION_SIZE);
      const offset = addr - s * SECTION_SIZE;
      const chunk = Math.min(SECTION_SIZE - offset, length - done);
      if (chunk === SECTION_SIZE) {
        this.sections[s] = undefined;
        this.views[s] = undefined;
        this.pending[s] = undefined;
        this.viewed[s] = 0;
        this.fillBytes[s] = byte;
      } else if (this.sections[s] !== undefined && (chunk <= EAGER_FILL_BYTES || this.viewed[s] === 1)) {
        // Small fills of backed memory (a zeroed page) are cheaper done than tracked.
        if (this.pending[s] !== undefined) this.dropPending(s, offset, chunk);
        this.sections[s]!.fill(byte, offset, offset + chunk);
      } else if (this.sections[s] !== undefined || this.fillBytes[s] !== (byte & 0xff)) {
        let p = this.pending[s];
        if (p === undefined) {
          p = new PendingFills();
          this.pending[s] = p;
        }
        p.add(offset, offset + chunk, byte & 0xff);
        // Fragmented beyond use: apply everything once and drop the bookkeeping.
        if (p.size > MAX_PENDING_RANGES) this.settle(s, 0, SECTION_SIZE);
      } else if (this.pending[s] !== undefined) {
        // Unbacked and already reading as `byte`: only what was pending there changes.
        this.dropPending(s, offset, chunk);
      }
      done += chunk;
    }
  }

  /**
   * Copies `length` bytes from `src` to `dst` with memmove semantics (overlap allowed). One host
   * copy per pair of source and destination section runs (sections sharing one buffer); a
   * never-written source section is copied as its fill byte.
   */
  copy(dst: PhysAddr, src: PhysAddr, length: number): void {
    this.checkRange(src, length);
    this.checkRange(dst, length);
    if (length === 0 || dst === src) return;
    // Everything pending is resolved first, so the runs below move plain bytes: the destination is
    // backed (its fill byte becomes pending), the source's pending fills are applied (before the
    // destination drops those under it, as the two may overlap), the destination's are dropped.
    this.backRuns(Math.floor(dst / SECTION_SIZE), Math.floor((dst + length - 1) / SECTION_SIZE));
    this.resolvePending(src, length, false);
    this.resolvePending(dst, length, true);
    // memmove: a destination above an overlapping source is copied from the end, so that no
    // source byte is overwritten before it is read.
    if (dst > src && dst < src + length) {
      for (let left = length; left > 0; ) left -= this.copyRun(dst, src, left, true);
    } else {
      for (let done = 0; done < length; ) done += this.copyRun(dst + done, src + done, length - done, false);
    }
  }

  /**
   * A zero-copy, live view of `[phys, phys + length)`, allocating the section's backing if needed:
   * writes through it are writes to memory, and later writes and fills show through it (until a
   * fill of the whole section gives the section new backing). The range must not straddle a 2 MiB
   * section; used by hot paths such as KHO bitmaps.
   */
  view(phys: PhysAddr, length: number): Uint8Array {
    const s = this.checked(phys, length);
    const offset = phys & SECTION_MASK;
    if (offset + length > SECTION_SIZE) {
      throw new ViewStraddlesSectionError(phys, length);
    }
    const bytes = this.backing(s);
    // A view is live and may be kept: what is pending under it is applied now, and later fills of
    // its section are applied at once.
    if (this.pending[s] !== undefined) this.settle(s, offset, length);
    this.viewed[s] = 1;
    return bytes.subarray(offset, offset + length);
  }

  /**
   * Reads `[phys, phys + length)` for immediate use: a zero-copy view when the range lies in one
   * backed section, else a fresh copy (as {@link PhysicalMemory.read}). The caller must not write
   * through it nor keep it (later fills are not applied to it). Decoders use it on handover data.
   */
  peek(phys: PhysAddr, length: number): Uint8Array {
    if (Number.isSafeInteger(length) && length > 0) {
      const s = this.checked(phys, length);
      const offset = phys - s * SECTION_SIZE;
      if (offset + length <= SECTION_SIZE) {
        if (this.pending[s] !== undefined) this.settle(s, offset, length);
        const bytes = this.sections[s];
        if (bytes !== undefined) return bytes.subarray(offset, offset + length);
      }
    }
    return this.read(phys, length);
  }

  // ---- internals -------------------------------------------------------------------------------

  /** Validates an access and returns its section index (fast path for in-section accesses). */
  private checked(phys: PhysAddr, length: number): number {
    const s = Math.floor(phys / SECTION_SIZE);
    const offset = phys - s * SECTION_SIZE;
    // `(offset | 0) === offset` rejects fractional addresses without a slow modulo.
    if (this.coverage[s] === FULL && offset + length <= SECTION_SIZE && (offset | 0) === offset) return s;
    this.checkRange(phys, length);
    return s;
  }

  private checkRange(phys: PhysAddr, length: number): void {
    if (!Number.isSafeInteger(phys) || phys < 0) throw new BadAccessError("phys", phys);
    if (!Number.isSafeInteger(length) || length < 0) throw new BadAccessError("length", length);
    if (length === 0) return;
    const first = Math.floor(phys / SECTION_SIZE);
    const last = Math.floor((phys + length - 1) / SECTION_SIZE);
    let partial = false;
    for (let s = first; s <= last; s++) {
      const c = this.coverage[s] ?? NOT_MEMORY;
      if (c === NOT_MEMORY) throw new NotMemoryError(phys, length);
      if (c === PARTIAL) partial = true;
    }
    if (partial && !this.coveredByRegions(phys, length)) throw new NotMemoryError(phys, length);
  }

  /** Byte-exact check that the range is covered by (possibly adjacent) regions. */
  private coveredByRegions(phys: PhysAddr, length: number): boolean {
    let cursor = phys;
    const end = phys + length;
    while (cursor < end) {
      const region = this.map.regionAt(cursor);
      if (region === undefined) return false;
      cursor = region.base + region.size;
    }
    return true;
  }

  private backing(s: number): Uint8Array {
    return this.sections[s] ?? this.adopt(s, new Uint8Array(SECTION_SIZE));
  }

  /** Makes `bytes` (2 MiB of zeroes) the backing of unbacked section `s`. */
  private adopt(s: number, bytes: Uint8Array): Uint8Array {
    this.sections[s] = bytes;
    this.views[s] = new DataView(bytes.buffer, bytes.byteOffset, SECTION_SIZE);
    const fill = this.fillBytes[s]!;
    if (fill !== 0) {
      // The section's fill byte (poison) is applied lazily too, under what is already pending:
      // the new kernel writes a few structures into poisoned sections and reads little else.
      let p = this.pending[s];
      if (p === undefined) {
        p = new PendingFills();
        this.pending[s] = p;
      }
      p.fillGaps(0, SECTION_SIZE, fill);
    }
    return bytes;
  }

  /** Backs the unbacked sections among `first..last`, each run of consecutive ones in one buffer. */
  private backRuns(first: number, last: number): void {
    for (let s = first; s <= last; s++) {
      if (this.sections[s] !== undefined) continue;
      let end = s + 1;
      while (end <= last && end - s < MAX_RUN_SECTIONS && this.sections[end] === undefined) end++;
      const run = new Uint8Array((end - s) * SECTION_SIZE);
      for (let i = s; i < end; i++)
        this.adopt(i, run.subarray((i - s) * SECTION_SIZE, (i - s + 1) * SECTION_SIZE));
      s = end - 1;
    }
  }

  /** Whether sections `s` and `s + 1` are backed by adjacent bytes of one buffer. */
  private contiguous(s: number): boolean {
    const a = this.sections[s];
    const b = this.sections[s + 1];
    return (
      a !== undefined &&
      b !== undefined &&
      a.buffer === b.buffer &&
      b.byteOffset === a.byteOffset + SECTION_SIZE
    );
  }

  /** `length` bytes from `offset` of section backing `bytes`, on into the sections contiguous with it. */
  private span(bytes: Uint8Array, offset: number, length: number): Uint8Array {
    return new Uint8Array(bytes.buffer, bytes.byteOffset + offset, length);
  }

  /**
   * Applies the pending fills of section `s` on the pages that `[offset, offset + length)` touches
   * (a read). Whole pages, so that scattered accesses do not fragment the pending ranges.
   */
  private settle(s: number, offset: number, length: number): void {
    const p = this.pending[s]!;
    const start = offset - (offset % PAGE_BYTES);
    const end = Math.min(SECTION_SIZE, Math.ceil((offset + length) / PAGE_BYTES) * PAGE_BYTES);
    if (!p.overlaps(start, end)) return;
    const target = this.backing(s);
    p.cut(start, end, target);
    if (p.empty) this.pending[s] = undefined;
  }

  /**
   * Before a write of `[offset, offset + length)` into section `s` (already backed): the written
   * bytes drop what was pending under them, the rest of the pages they touch get it applied.
   */
  private discard(s: number, offset: number, length: number): void {
    this.dropPending(s, offset, length);
    if (this.pending[s] !== undefined) this.settle(s, offset, length);
  }

  /** Drops the pending fills of section `s` under `[offset, offset + length)` exactly. */
  private dropPending(s: number, offset: number, length: number): void {
    const p = this.pending[s]!;
    p.cut(offset, offset + length);
    if (p.empty) this.pending[s] = undefined;
  }

  /**
   * Applies (a source: `written` false) or drops (a destination) the pending fills under
   * `[phys, phys + length)`, section by section.
   */
  private resolvePending(phys: PhysAddr, length: number, written: boolean): void {
    const end = phys + length;
    const last = Math.floor((end - 1) / SECTION_SIZE);
    for (let s = Math.floor(phys / SECTION_SIZE); s <= last; s++) {
      if (this.pending[s] === undefined) continue;
      const base = s * SECTION_SIZE;
      const from = Math.max(phys, base) - base;
      const to = Math.min(end, base + SECTION_SIZE) - base;
      if (written) this.discard(s, from, to - from);
      else this.settle(s, from, to - from);
    }
  }

  /**
   * One host copy of the first (or, `fromEnd`, the last) part of `[src, src + length)` to the same
   * part of `[dst, dst + length)` that lies in one source run and one destination run; returns its
   * length. Nothing may be pending there and the destination must be backed (see `copy`).
   */
  private copyRun(dst: PhysAddr, src: PhysAddr, length: number, fromEnd: boolean): number {
    const n = Math.min(this.runBytes(src, length, fromEnd), this.runBytes(dst, length, fromEnd));
    const from = fromEnd ? src + length - n : src;
    const to = fromEnd ? dst + length - n : dst;
    const ss = Math.floor(from / SECTION_SIZE);
    const ds = Math.floor(to / SECTION_SIZE);
    const target = this.span(this.sections[ds]!, to - ds * SECTION_SIZE, n);
    const source = this.sections[ss];
    if (source === undefined) {
      target.fill(this.fillBytes[ss]!);
    } else if (source.buffer === target.buffer) {
      const at = source.byteOffset + (from - ss * SECTION_SIZE);
      new Uint8Array(source.buffer).copyWithin(target.byteOffset, at, at + n);
    } else {
      target.set(this.span(source, from - ss * SECTION_SIZE, n));
    }
    return n;
  }

  /**
   * Bytes of `[phys, phys + length)` from its start (or, `fromEnd`, back from its end) that lie in
   * one run: sections backed by adjacent bytes of one buffer, or a single unbacked section.
   */
  private runBytes(phys: PhysAddr, length: number, fromEnd: boolean): number {
    const edge = fromEnd ? phys + length - 1 : phys;
    const s = Math.floor(edge / SECTION_SIZE);
    const offset = edge - s * SECTION_SIZE;
    let n = fromEnd ? offset + 1 : SECTION_SIZE - offset;
    if (this.sections[s] !== undefined) {
      const step = fromEnd ? -1 : 1;
      for (let t = s; n < length && this.contiguous(fromEnd ? t - 1 : t); t += step) n += SECTION_SIZE;
    }
    return Math.min(n, length);
  }

  private readSlow(phys: PhysAddr, length: number): void {
    this.readInto(phys, this.scratchBytes.subarray(0, length));
  }
}
