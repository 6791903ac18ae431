import { hex, levelSpan, type PhysAddr, type PhysicalMemory } from "@liveupdate/core";
import type { GuestmemFile } from "@liveupdate/guestmemfs";
import { IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITABLE, TOP_LEVEL } from "../abi.js";
import {
  IommufdLeafOutsideMappingError,
  IommufdTableFormatError,
  IommufdTableNotPreservedError,
  IommufdTableSharedError,
} from "../errors.js";

/** An area of the handover, resolved to its restored guestmemfs file. */
export interface ResolvedArea {
  /** First IOVA. */
  readonly iova: number;
  /** Bytes. */
  readonly length: number;
  /** `IOMMU_IOAS_MAP_*` flags. */
  readonly flags: number;
  /** The file (restored in the same session). */
  readonly file: GuestmemFile;
  /** Offset of `iova` in the file. */
  readonly offset: number;
}

/** What the walk of one domain's tree found. */
export interface WalkResult {
  /** Every table page, top first. */
  readonly pages: PhysAddr[];
  /** Bytes mapped by the leaves. */
  readonly mappedBytes: number;
  /** Number of leaves. */
  readonly leaves: number;
}

/** Bits of a second-stage entry this driver may set: R (0), W (1), PS (7) and the address (45:12). */
const LOW_ALLOWED = 0xffff_f083;
const HIGH_ALLOWED = 0x0000_3fff;
const ENTRIES = 512;
/** Bits a 4 KiB leaf may have: R, W and the address. */
const LEAF_ALLOWED = 0xffff_f003;
const SMALL = 4096;

/** Where a table entry is, for errors (built into a context only when one is thrown). */
interface EntryPlace {
  readonly where: Readonly<Record<string, unknown>>;
  readonly table: PhysAddr;
  readonly level: number;
}

/** Throws the format error of entry `index` of the table at `at`. */
function bad(at: EntryPlace, index: number, iova: number, why: string): never {
  throw new IommufdTableFormatError(`entry ${index} of table ${hex(at.table)} (level ${at.level}) ${why}`, {
    ...at.where,
    table: hex(at.table),
    level: at.level,
    index,
    iova: hex(iova),
  });
}

/**
 * Walks one preserved second-stage tree before it is adopted, trusting nothing: every table page
 * must be a page preserved for this object (`folios`) that no other domain reaches (`seen`), every
 * entry well-formed for its level, and every leaf must map exactly the guestmemfs memory the
 * handover's areas say is mapped at that IOVA (address, size and permissions), in IOVA order.
 * Entries are read as two u32 halves from a view of each page: the walk costs one pass over the
 * table pages, not one lookup per mapping.
 *
 * @param memory - physical memory.
 * @param top - the top table.
 * @param owner - the domain's index in the handover (for messages and sharing).
 * @param folios - pages preserved for this object.
 * @param seen - table pages already claimed by a domain (index), updated.
 * @param areas - the domain's IOAS areas, sorted by IOVA, resolved to files.
 * @param where - context for errors (driver, session, token, field).
 * @throws the typed restore errors, naming the table, level, index and IOVA.
 */
export function walkPreservedTree(
  memory: PhysicalMemory,
  top: PhysAddr,
  owner: number,
  folios: ReadonlySet<PhysAddr>,
  seen: Map<PhysAddr, number>,
  areas: readonly ResolvedArea[],
  where: Readonly<Record<string, unknown>>,
): WalkResult {
  const walk = new TreeWalk(memory, owner, folios, seen, areas, where);
  walk.visit(top, TOP_LEVEL, 0);
  return { pages: walk.pages, mappedBytes: walk.mappedBytes, leaves: walk.leaves };
}

/**
 * The state of one walk. A class rather than closures inside `walkPreservedTree`: every walk then
 * runs the same functions, so the JIT's optimized code survives from one walk to the next (closures
 * made per walk were new call targets each time, and the first walk after a kexec ran 2-5× slower).
 */
class TreeWalk {
  readonly pages: PhysAddr[] = [];
  mappedBytes = 0;
  leaves = 0;
  /** Index of the first area that may hold the next leaf (leaves come in IOVA order). */
  private cursor = 0;
  // The current physically contiguous piece of the current area: [segStart, segEnd) → segPhys.
  private segArea: ResolvedArea | undefined = undefined;
  private segStart = 0;
  private segEnd = 0;
  private segPhys = 0;
  private segRead = false;
  private segWrite = false;
  private segPerms = 0;

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly owner: number,
    private readonly folios: ReadonlySet<PhysAddr>,
    private readonly seen: Map<PhysAddr, number>,
    private readonly areas: readonly ResolvedArea[],
    private readonly where: Readonly<Record<string, unknown>>,
  ) {}

  /** Checks the table page at `table` (level `level`, mapping from IOVA `base`) and everything below. */
  visit(table: PhysAddr, level: number, base: number): void {
    const at = { where: this.where, table, level };
    if (!this.folios.has(table))
      throw new IommufdTableNotPreservedError(
        `table ${hex(table)} (level ${level}) was not preserved for this object`,
        { ...this.where, table: hex(table), level },
      );
    const other = this.seen.get(table);
    if (other !== undefined)
      throw new IommufdTableSharedError(
        `table ${hex(table)} is reached twice (domains ${other} and ${this.owner})`,
        at,
      );
    this.seen.set(table, this.owner);
    this.pages.push(table);
    const bytes = this.memory.peek(table, ENTRIES * 8);
    // u32 halves, little-endian like the host; a copy when the bytes are not 4-byte aligned.
    const words =
      bytes.byteOffset % 4 === 0
        ? new Uint32Array(bytes.buffer, bytes.byteOffset, ENTRIES * 2)
        : new Uint32Array(bytes.slice().buffer);
    const span = levelSpan(level);
    if (level === 1) {
      this.visitLeafTable(at, words, base);
      return;
    }
    for (let i = 0; i < ENTRIES; i++) {
      const lo = words[2 * i]!;
      const hi = words[2 * i + 1]!;
      if (lo === 0 && hi === 0) continue;
      this.entry(at, i, lo, hi, level, span, base + i * span);
    }
  }

  /**
   * The hot loop (one iteration per 4 KiB mapping): a well-formed leaf inside the current piece of
   * the current area is checked with a few integer operations on locals; anything else goes the
   * general way ({@link TreeWalk.entry}), which reports it or moves to the next piece.
   */
  private visitLeafTable(at: EntryPlace, words: Uint32Array, base: number): void {
    let start = this.segStart;
    let end = this.segEnd;
    let phys = this.segPhys;
    let allowed = this.segPerms;
    let fast = 0;
    for (let i = 0; i < ENTRIES; i++) {
      const lo = words[2 * i]!;
      const hi = words[2 * i + 1]!;
      if ((lo | hi) === 0) continue;
      const iova = base + i * SMALL;
      const perms = lo & 3;
      if (
        (lo & ~LEAF_ALLOWED) === 0 &&
        (hi & ~HIGH_ALLOWED) === 0 &&
        perms !== 0 &&
        (perms & ~allowed) === 0 &&
        iova >= start &&
        iova + SMALL <= end &&
        (lo >>> 12) * SMALL + hi * 2 ** 32 === phys + (iova - start)
      ) {
        fast++;
        continue;
      }
      this.entry(at, i, lo, hi, 1, SMALL, iova);
      start = this.segStart;
      end = this.segEnd;
      phys = this.segPhys;
      allowed = this.segPerms;
    }
    this.leaves += fast;
    this.mappedBytes += fast * SMALL;
  }

  /** One non-zero entry, checked in full: a table pointer (recursed into) or a leaf. */
  private entry(
    at: EntryPlace,
    i: number,
    lo: number,
    hi: number,
    level: number,
    span: number,
    iova: number,
  ): void {
    if ((lo & ~LOW_ALLOWED) !== 0 || (hi & ~HIGH_ALLOWED) !== 0)
      bad(at, i, iova, "has bits this driver never sets");
    const read = (lo & 1) !== 0;
    const write = (lo & 2) !== 0;
    if (!read && !write) bad(at, i, iova, "is not present but not zero");
    const large = (lo & 0x80) !== 0;
    const address = (lo >>> 12) * 4096 + hi * 2 ** 32;
    if (level === 1 || large) {
      if (large && level !== 2 && level !== 3) bad(at, i, iova, "is a large page at a level without one");
      if (address % span !== 0)
        bad(at, i, iova, `maps ${hex(address)}, not aligned to its ${span}-byte page`);
      this.leaf(iova, address, span, read, write);
    } else {
      if (!read || !write) bad(at, i, iova, "is a table pointer without R and W");
      // Nothing writes memory during the walk, so this page's view stays valid across the recursion.
      this.visit(address, level - 1, iova);
    }
  }

  /** A leaf mapping `size` bytes at `iova` to `phys`: it must be exactly the area's file memory. */
  private leaf(iova: number, phys: number, size: number, read: boolean, write: boolean): void {
    // Fast path: inside the current contiguous piece of the current area (almost every leaf).
    if (iova >= this.segStart && iova + size <= this.segEnd) {
      if ((write && !this.segWrite) || (read && !this.segRead))
        this.outside(iova, phys, "grants more than its area's flags");
      const expected = this.segPhys + (iova - this.segStart);
      if (phys !== expected) this.outside(iova, phys, `is not the file's memory (expected ${hex(expected)})`);
      this.mappedBytes += size;
      this.leaves++;
      return;
    }
    const areas = this.areas;
    while (this.cursor < areas.length && areas[this.cursor]!.iova + areas[this.cursor]!.length <= iova)
      this.cursor++;
    const a = areas[this.cursor];
    if (a === undefined || a.iova > iova || iova + size > a.iova + a.length)
      this.outside(iova, phys, "lies outside every area of its IOAS");
    if (
      (write && (a.flags & IOMMU_IOAS_MAP_WRITABLE) === 0) ||
      (read && (a.flags & IOMMU_IOAS_MAP_READABLE) === 0)
    )
      this.outside(iova, phys, "grants more than its area's flags");
    if (this.segArea !== a || iova < this.segStart || iova + size > this.segEnd) {
      const { phys: p, contiguous } = a.file.locate(a.offset + (iova - a.iova));
      this.segArea = a;
      this.segStart = iova;
      this.segEnd = iova + Math.min(contiguous, a.iova + a.length - iova);
      this.segPhys = p;
      this.segRead = (a.flags & IOMMU_IOAS_MAP_READABLE) !== 0;
      this.segWrite = (a.flags & IOMMU_IOAS_MAP_WRITABLE) !== 0;
      this.segPerms = (this.segRead ? 1 : 0) | (this.segWrite ? 2 : 0);
    }
    const expected = this.segPhys + (iova - this.segStart);
    if (phys !== expected || iova + size > this.segEnd)
      this.outside(iova, phys, `is not the file's memory (expected ${hex(expected)})`);
    this.mappedBytes += size;
    this.leaves++;
  }

  private outside(iova: number, phys: number, why: string): never {
    throw new IommufdLeafOutsideMappingError(`the leaf at IOVA ${hex(iova)} → ${hex(phys)} ${why}`, {
      ...this.where,
      iova: hex(iova),
      phys: hex(phys),
    });
  }
}
