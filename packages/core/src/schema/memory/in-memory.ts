import { hex } from "../../common/errors.js";
import { RangeSet } from "../../common/range-set.js";
import { SchemaMemoryError } from "../errors.js";
import type { SchemaMemory } from "./memory.js";

const PAGE_SHIFT = 12;
const PAGE_SIZE = 1 << PAGE_SHIFT;

/** Options of {@link InMemorySchemaMemory}. */
export interface InMemorySchemaMemoryOptions {
  /** First physical address handed out by the bump allocator (default `0x1000_0000`). */
  readonly base?: number;
  /** Maximum number of bytes the allocator may hand out (default 1 GiB). */
  readonly limit?: number;
}

/**
 * A sparse in-memory {@link SchemaMemory}: 4 KiB pages created on first write (unwritten bytes read
 * as zero), a bump allocator, and a preserved-range set. Everything allocated counts as preserved;
 * {@link InMemorySchemaMemory.preserve} and {@link InMemorySchemaMemory.unpreserve} adjust that by
 * hand (handy for hostile-input tests).
 *
 * @example
 * ```ts
 * const memory = new InMemorySchemaMemory();
 * const phys = memory.allocate(64, 8);
 * memory.write(phys, new Uint8Array([1, 2, 3]));
 * memory.isPreserved(phys, 64); // true
 * ```
 */
export class InMemorySchemaMemory implements SchemaMemory {
  private readonly pages = new Map<number, Uint8Array>();
  private readonly preserved = new RangeSet();
  private readonly base: number;
  private readonly limit: number;
  private next: number;

  /**
   * @param options - allocator base address and byte limit.
   */
  constructor(options: InMemorySchemaMemoryOptions = {}) {
    this.base = options.base ?? 0x1000_0000;
    this.limit = options.limit ?? 1 << 30;
    if (!Number.isSafeInteger(this.base) || this.base <= 0) {
      throw new SchemaMemoryError(`InMemorySchemaMemory: invalid base ${String(options.base)}`);
    }
    this.next = this.base;
  }

  /** Bytes handed out so far by the allocator (including alignment gaps). */
  get allocatedBytes(): number {
    return this.next - this.base;
  }

  /** The preserved ranges as `[start, end)` pairs. */
  preservedRanges(): [number, number][] {
    return this.preserved.toArray();
  }

  /** {@inheritDoc SchemaMemory.allocate} */
  allocate(size: number, align: number): number {
    if (
      !Number.isSafeInteger(size) ||
      size <= 0 ||
      !Number.isSafeInteger(align) ||
      align <= 0 ||
      (align & (align - 1)) !== 0
    ) {
      throw new SchemaMemoryError(`allocate: invalid size ${size} or alignment ${align}`, { size, align });
    }
    const phys = Math.ceil(this.next / align) * align;
    if (phys + size - this.base > this.limit) {
      throw new SchemaMemoryError(`allocate: out of memory (limit ${this.limit} bytes)`, {
        size,
        align,
        limit: this.limit,
      });
    }
    this.next = phys + size;
    this.preserved.add(phys, phys + size);
    return phys;
  }

  /** {@inheritDoc SchemaMemory.isPreserved} */
  isPreserved(phys: number, length: number): boolean {
    return (
      Number.isSafeInteger(phys) &&
      Number.isSafeInteger(length) &&
      phys >= 0 &&
      this.preserved.covers(phys, length)
    );
  }

  /**
   * Marks `[phys, phys + length)` preserved (e.g. memory written by hand in a test).
   *
   * @param phys - first address.
   * @param length - number of bytes.
   */
  preserve(phys: number, length: number): void {
    this.preserved.add(phys, phys + length);
  }

  /**
   * Marks `[phys, phys + length)` not preserved; later decodes refuse pointers into it.
   *
   * @param phys - first address.
   * @param length - number of bytes.
   */
  unpreserve(phys: number, length: number): void {
    this.preserved.remove(phys, phys + length);
  }

  /** {@inheritDoc SchemaMemory.read} */
  read(phys: number, length: number): Uint8Array {
    this.checkRange(phys, length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const at = phys + done;
      const page = this.pages.get(Math.floor(at / PAGE_SIZE));
      const inPage = at % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - inPage, length - done);
      if (page !== undefined) out.set(page.subarray(inPage, inPage + n), done);
      done += n;
    }
    return out;
  }

  /** {@inheritDoc SchemaMemory.write} */
  write(phys: number, bytes: Uint8Array): void {
    this.checkRange(phys, bytes.length);
    let done = 0;
    while (done < bytes.length) {
      const at = phys + done;
      const index = Math.floor(at / PAGE_SIZE);
      let page = this.pages.get(index);
      if (page === undefined) {
        page = new Uint8Array(PAGE_SIZE);
        this.pages.set(index, page);
      }
      const inPage = at % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - inPage, bytes.length - done);
      page.set(bytes.subarray(done, done + n), inPage);
      done += n;
    }
  }

  private checkRange(phys: number, length: number): void {
    if (
      !Number.isSafeInteger(phys) ||
      phys < 0 ||
      !Number.isSafeInteger(length) ||
      length < 0 ||
      phys + length > Number.MAX_SAFE_INTEGER
    ) {
      throw new SchemaMemoryError(`invalid physical range ${hex(Math.max(0, phys) || 0)}+${length}`, {
        phys,
        length,
      });
    }
  }
}
