import { hex, LiveUpdateError } from "../../common/errors.js";
import { RangeSet } from "../../common/range-set.js";
import type { ScalarName } from "../declare/types.js";
import {
  SchemaBadStringError,
  SchemaBudgetExceededError,
  SchemaCountOverflowError,
  type SchemaErrorContext,
  SchemaInvalidValueError,
  SchemaInvariantError,
  SchemaMemoryError,
  SchemaMemoryRequiredError,
  SchemaNullPointerError,
  SchemaPointerCycleError,
  SchemaPointerMisalignedError,
  SchemaPointerNotPreservedError,
  SchemaPointerRangeError,
  SchemaPointerSharedError,
  SchemaReservedNonZeroError,
} from "../errors.js";
import type { SchemaMemory } from "../memory/memory.js";
import { DEFAULT_DECODE_BUDGET, type DecodeBudget } from "./budget.js";

/** Who is encoding or decoding, for error contexts. */
export interface CodecLabel {
  /** Driver (versioned schema) name or root struct name. */
  readonly driver: string;
  /** Schema version, when the codec belongs to a versioned schema. */
  readonly version?: number;
}

/** Per-decode mutable state: memory, budgets, and the pointee ranges seen (for cycle/sharing checks). */
export class DecodeState {
  /** Number of pointees on the active chain (and the top of the `activeStart`/`activeEnd` stack). */
  depth = 0;
  pointees = 0;
  bytes = 0;
  /** The active chain as a stack (pointees are left in reverse order of entry): starts. */
  readonly activeStart: number[] = [];
  /** The active chain: ends. */
  readonly activeEnd: number[] = [];
  readonly visited = new RangeSet();
  readonly maxDepth: number;
  readonly maxPointees: number;
  readonly maxBytes: number;

  constructor(
    readonly memory: SchemaMemory | null,
    budget: DecodeBudget = {},
  ) {
    this.maxDepth = budget.maxDepth ?? DEFAULT_DECODE_BUDGET.maxDepth;
    this.maxPointees = budget.maxPointees ?? DEFAULT_DECODE_BUDGET.maxPointees;
    this.maxBytes = budget.maxBytes ?? DEFAULT_DECODE_BUDGET.maxBytes;
  }

  /** Whether `[start, end)` intersects a pointee still being decoded (a cycle). */
  onActiveChain(start: number, end: number): boolean {
    for (let i = 0; i < this.depth; i++) {
      if (start < this.activeEnd[i]! && this.activeStart[i]! < end) return true;
    }
    return false;
  }
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Slots of the per-codec cache of decoded short strings (a power of two). */
const CHARS_CACHE_SIZE = 256;

/** Whether `s` is exactly the ASCII bytes `u8[from..to)`. */
function sameAscii(s: string, u8: Uint8Array, from: number, to: number): boolean {
  if (s.length !== to - from) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== u8[from + i]) return false;
  return true;
}
const MAX_SCRATCH = 1 << 30;
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Status codes of {@link CodecRuntime.writeChars} / {@link CodecRuntime.readChars}. */
const CHARS_PROBLEMS: Record<number, string> = {
  1: "expected a string",
  2: "string contains a NUL character",
  3: "string does not fit",
  4: "string is not well-formed UTF-16 (lone surrogate)",
  5: "no NUL terminator",
  6: "non-zero byte after the NUL terminator",
  7: "invalid UTF-8",
};

function describe(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  if (Array.isArray(value)) return `array(${value.length})`;
  if (value === null) return "null";
  if (typeof value === "object") return "object";
  return String(value);
}

/**
 * The helper object generated codecs call: failure paths (which build typed errors with the field
 * path), string and pointer handling. Hot paths never go through it for plain scalars.
 *
 * @internal
 */
export class CodecRuntime {
  /** Recently decoded short ASCII strings, by hash (see {@link CodecRuntime.readChars}). */
  private readonly charsCache: (string | undefined)[] = new Array(CHARS_CACHE_SIZE);

  /** The path of the pointer `deref` is following, in parts (joined by `resolve` on failure). */
  private lazyBase = "";
  private lazyIndex = -1;
  private lazyRel = "";

  /** The buffer whose whole-buffer views are cached (see {@link CodecRuntime.u8Of}). */
  private viewBuffer: ArrayBufferLike | undefined;
  private viewU8: Uint8Array = new Uint8Array(0);
  private viewDv: DataView = new DataView(new ArrayBuffer(0));

  constructor(readonly label: CodecLabel) {}

  /** A `Uint8Array` over the whole buffer of `bytes` (cached; offsets are `bytes.byteOffset`-based). */
  u8Of(bytes: Uint8Array): Uint8Array {
    if (bytes.buffer !== this.viewBuffer) this.cacheViews(bytes.buffer);
    return this.viewU8;
  }

  /** A `DataView` over the whole buffer of `bytes` (cached, like {@link CodecRuntime.u8Of}). */
  dvOf(bytes: Uint8Array): DataView {
    if (bytes.buffer !== this.viewBuffer) this.cacheViews(bytes.buffer);
    return this.viewDv;
  }

  private cacheViews(buffer: ArrayBufferLike): void {
    this.viewBuffer = buffer;
    this.viewU8 = new Uint8Array(buffer);
    this.viewDv = new DataView(buffer);
  }

  /** Joins a path prefix and a relative suffix such as `.extents[3]`. */
  path(base: string, rel: string): string {
    if (base === "") return rel.startsWith(".") ? rel.slice(1) : rel;
    return base + rel;
  }

  /**
   * `rel` under element `index` of `base` (under `base` itself for a negative index): one call at
   * each failure site of a generated decoder.
   */
  at(base: string, index: number, rel: string): string {
    return this.path(index < 0 ? base : this.path(base, `[${index}]`), rel);
  }

  ctx(path: string, extra: Record<string, unknown> = {}): SchemaErrorContext {
    const c: Record<string, unknown> = { driver: this.label.driver };
    if (this.label.version !== undefined) c.version = this.label.version;
    c.path = path;
    return Object.assign(c, extra);
  }

  failScalar(path: string, scalar: ScalarName, value: unknown): never {
    const big = scalar === "u64" || scalar === "i64";
    const typeOk = big ? typeof value === "bigint" : typeof value === "number" && Number.isInteger(value);
    if (!typeOk) {
      throw new SchemaInvalidValueError(
        `expected ${big ? "a bigint" : "an integer number"} for ${scalar}, got ${describe(value)}`,
        this.ctx(path, { expected: scalar }),
      );
    }
    throw new SchemaInvariantError(
      `${describe(value)} is outside the range of ${scalar}`,
      this.ctx(path, { rule: "range", value }),
    );
  }

  failInvariant(path: string, rule: string, value: unknown, detail: string): never {
    throw new SchemaInvariantError(
      `${describe(value)} violates ${rule} ${detail}`,
      this.ctx(path, { rule, value }),
    );
  }

  failType(path: string, expected: string, value: unknown): never {
    throw new SchemaInvalidValueError(
      `expected ${expected}, got ${describe(value)}`,
      this.ctx(path, { expected }),
    );
  }

  failBoolByte(path: string, byte: number): never {
    throw new SchemaInvariantError(
      `bool byte ${byte} is neither 0 nor 1`,
      this.ctx(path, { rule: "bool", value: byte }),
    );
  }

  failReserved(path: string): never {
    throw new SchemaReservedNonZeroError("reserved or padding bytes are not zero", this.ctx(path));
  }

  failChars(path: string, code: number, value?: unknown): never {
    throw new SchemaBadStringError(
      `${CHARS_PROBLEMS[code] ?? "bad string"}${value === undefined ? "" : `: ${describe(value)}`}`,
      this.ctx(path),
    );
  }

  failNull(path: string): never {
    throw new SchemaNullPointerError("null pointer where the declaration requires a pointee", this.ctx(path));
  }

  failDangling(path: string, phys: number): never {
    throw new SchemaNullPointerError(
      `non-null pointer ${hex(phys)} with a zero count/length`,
      this.ctx(path, { phys }),
    );
  }

  failPointerRange(path: string, hi: number, lo: number): never {
    const phys = (BigInt(hi) << 32n) | BigInt(lo);
    throw new SchemaPointerRangeError(`pointer ${hex(phys)} is above 2^53 - 1`, this.ctx(path, { phys }));
  }

  failCountRange(path: string, count: bigint): never {
    throw new SchemaCountOverflowError(
      `count ${count} does not fit a safe integer`,
      this.ctx(path, { count }),
    );
  }

  failCountMismatch(path: string, countField: string, expected: number, actual: number): never {
    throw new SchemaInvariantError(
      `length ${actual} differs from ${expected}, the length of another array sharing count field ${countField}`,
      this.ctx(path, { rule: "countMismatch", countField, value: actual }),
    );
  }

  failCount(path: string, countField: string, rule: string, length: number, detail: string): never {
    throw new SchemaInvariantError(
      `length ${length} violates ${rule} ${detail} of count field ${countField}`,
      this.ctx(path, { rule, countField, value: length }),
    );
  }

  /** True when `n` bytes of `u8` from `off` are all zero. */
  allZero(u8: Uint8Array, off: number, n: number): boolean {
    for (let i = off, end = off + n; i < end; i++) if (u8[i] !== 0) return false;
    return true;
  }

  /** Writes a `char[n]` field; returns 0 or a problem code for {@link CodecRuntime.failChars}. */
  writeChars(value: unknown, u8: Uint8Array, off: number, n: number, terminated: boolean): number {
    if (typeof value !== "string") return 1;
    const room = terminated ? n - 1 : n;
    let j = 0;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) return this.writeCharsSlow(value, u8, off, n, room);
      if (c === 0) return 2;
      if (j >= room) return 3;
      u8[off + j++] = c;
    }
    u8.fill(0, off + j, off + n);
    return 0;
  }

  private writeCharsSlow(value: string, u8: Uint8Array, off: number, n: number, room: number): number {
    if (LONE_SURROGATE.test(value)) return 4;
    if (value.includes("\0")) return 2;
    const bytes = utf8Encoder.encode(value);
    if (bytes.length > room) return 3;
    u8.set(bytes, off);
    u8.fill(0, off + bytes.length, off + n);
    return 0;
  }

  /** Reads a `char[n]` field; returns the string or a problem code for {@link CodecRuntime.failChars}. */
  readChars(u8: Uint8Array, off: number, n: number, terminated: boolean): string | number {
    const end = off + n;
    let z = off;
    let ascii = true;
    let hash = 0;
    while (z < end && u8[z] !== 0) {
      const c = u8[z]!;
      if (c >= 0x80) ascii = false;
      hash = (Math.imul(hash, 31) + c) | 0;
      z++;
    }
    if (z === end && terminated) return 5;
    for (let i = z + 1; i < end; i++) if (u8[i] !== 0) return 6;
    if (ascii && z - off <= 64) {
      // Short ASCII strings (compatible strings, names) repeat across records: a hit costs a
      // comparison instead of a new string.
      const slot = (hash ^ (z - off)) & (CHARS_CACHE_SIZE - 1);
      const cached = this.charsCache[slot];
      if (cached !== undefined && sameAscii(cached, u8, off, z)) return cached;
      const fresh = String.fromCharCode.apply(null, u8.subarray(off, z) as unknown as number[]);
      this.charsCache[slot] = fresh;
      return fresh;
    }
    // One call for the whole run: concatenating per character allocates a string per byte.
    if (ascii && z - off <= 256)
      return String.fromCharCode.apply(null, u8.subarray(off, z) as unknown as number[]);
    try {
      return utf8Decoder.decode(u8.subarray(off, z));
    } catch {
      return 7;
    }
  }

  /** A zeroed scratch buffer for `count` elements of `size` bytes (refuses absurd totals). */
  scratch(count: number, size: number, path: string): Uint8Array {
    const total = count * size;
    if (total > MAX_SCRATCH) {
      throw new SchemaCountOverflowError(
        `pointee of ${count} × ${size} bytes is too large to encode`,
        this.ctx(path, { count, elementSize: size }),
      );
    }
    return new Uint8Array(total);
  }

  /**
   * Allocates preserved memory for an encoded pointee, writes it, and returns its physical address.
   */
  store(memory: SchemaMemory | null, bytes: Uint8Array, align: number, path: string): number {
    if (memory === null) {
      throw new SchemaMemoryRequiredError(
        "a pointer must be written but no SchemaMemory was given",
        this.ctx(path),
      );
    }
    let phys: number;
    try {
      phys = memory.allocate(bytes.length, align);
    } catch (e) {
      throw this.memoryFailure(e, "allocate", path);
    }
    if (!Number.isSafeInteger(phys) || phys <= 0 || phys % align !== 0 || phys + bytes.length > MAX_SAFE) {
      throw new SchemaMemoryError(
        `allocate returned an unusable address ${String(phys)}`,
        this.ctx(path, { phys, align }),
      );
    }
    try {
      memory.write(phys, bytes);
    } catch (e) {
      throw this.memoryFailure(e, "write", path);
    }
    return phys;
  }

  private memoryFailure(e: unknown, op: string, path: string | null): Error {
    if (e instanceof LiveUpdateError) return e;
    return new SchemaMemoryError(`SchemaMemory.${op} failed: ${String(e)}`, this.ctx(this.resolve(path)), {
      cause: e,
    });
  }

  /**
   * Checks and follows a pointer to `count` elements of `size` bytes aligned to `align`: overflow,
   * alignment, preservation, cycles/sharing and budgets, in that order. Returns the pointee bytes
   * (possibly a view of the memory: decoders copy what they keep). The pointer's field path is
   * `base`, element `index` of it when non-negative, then `rel` (as {@link CodecRuntime.at} joins
   * them).
   */
  deref(
    state: DecodeState | null,
    phys: number,
    count: number,
    size: number,
    align: number,
    base: string,
    index: number,
    rel: string,
  ): Uint8Array {
    // The pointer's path is `base[index] + rel`, joined only if a check fails (`resolve(null)`):
    // following a pointer builds no string.
    this.lazyBase = base;
    this.lazyIndex = index;
    this.lazyRel = rel;
    if (state === null || state.memory === null) {
      throw new SchemaMemoryRequiredError(
        "a pointer must be followed but no SchemaMemory was given",
        this.ctx(this.resolve(null), { phys }),
      );
    }
    const total = this.checkPointee(state.memory, phys, count, size, align, null);
    if (state.onActiveChain(phys, phys + total)) {
      throw new SchemaPointerCycleError(
        `pointer ${hex(phys)} leads back into a pointee being decoded`,
        this.ctx(this.resolve(null), { phys }),
      );
    }
    if (state.visited.overlaps(phys, total)) {
      throw new SchemaPointerSharedError(
        `pointee at ${hex(phys)} overlaps an already decoded pointee`,
        this.ctx(this.resolve(null), { phys }),
      );
    }
    this.checkBudget(state.depth + 1, state.pointees + 1, state.bytes + total, state, null);
    const bytes = this.readPointee(state.memory, phys, total, null);
    state.activeStart[state.depth] = phys;
    state.activeEnd[state.depth] = phys + total;
    state.visited.add(phys, phys + total);
    state.depth++;
    state.pointees++;
    state.bytes += total;
    return bytes;
  }

  /**
   * {@link CodecRuntime.deref} for the root struct of a decode that follows no pointer: the same
   * checks (nothing can be shared or cyclic yet), without a {@link DecodeState}.
   */
  derefRoot(
    memory: SchemaMemory,
    phys: number,
    size: number,
    align: number,
    budget?: DecodeBudget,
  ): Uint8Array {
    if (memory === null || memory === undefined) {
      throw new SchemaMemoryRequiredError(
        "a pointer must be followed but no SchemaMemory was given",
        this.ctx("", { phys }),
      );
    }
    this.checkPointee(memory, phys, 1, size, align, "");
    this.checkBudget(1, 1, size, budget ?? DEFAULT_DECODE_BUDGET, "");
    return this.readPointee(memory, phys, size, "");
  }

  /** Overflow, alignment and preservation of a pointee; returns its byte length. */
  private checkPointee(
    memory: SchemaMemory,
    phys: number,
    count: number,
    size: number,
    align: number,
    path: string | null,
  ): number {
    const total = count * size;
    if (!Number.isSafeInteger(total) || phys + total > MAX_SAFE) {
      throw new SchemaCountOverflowError(
        `pointee of ${count} × ${size} bytes at ${hex(phys)} overflows the address space`,
        this.ctx(this.resolve(path), { phys, count, elementSize: size }),
      );
    }
    if (phys % align !== 0) {
      throw new SchemaPointerMisalignedError(
        `pointer ${hex(phys)} is not ${align}-byte aligned`,
        this.ctx(this.resolve(path), { phys, align }),
      );
    }
    let preserved: boolean;
    try {
      preserved = memory.isPreserved(phys, total) === true;
    } catch (e) {
      throw this.memoryFailure(e, "isPreserved", path);
    }
    if (!preserved) {
      throw new SchemaPointerNotPreservedError(
        `pointee [${hex(phys)}, ${hex(phys + total)}) is not in preserved memory`,
        this.ctx(this.resolve(path), { phys, length: total }),
      );
    }
    return total;
  }

  private checkBudget(
    depth: number,
    pointees: number,
    bytes: number,
    limits: DecodeBudget,
    path: string | null,
  ): void {
    const maxDepth = limits.maxDepth ?? DEFAULT_DECODE_BUDGET.maxDepth;
    const maxPointees = limits.maxPointees ?? DEFAULT_DECODE_BUDGET.maxPointees;
    const maxBytes = limits.maxBytes ?? DEFAULT_DECODE_BUDGET.maxBytes;
    if (depth > maxDepth) this.failBudget(path, "maxDepth", maxDepth);
    if (pointees > maxPointees) this.failBudget(path, "maxPointees", maxPointees);
    if (bytes > maxBytes) this.failBudget(path, "maxBytes", maxBytes);
  }

  private readPointee(memory: SchemaMemory, phys: number, total: number, path: string | null): Uint8Array {
    let bytes: Uint8Array;
    try {
      bytes = memory.read(phys, total);
    } catch (e) {
      throw this.memoryFailure(e, "read", path);
    }
    if (!(bytes instanceof Uint8Array) || bytes.length !== total) {
      throw new SchemaMemoryError(
        `SchemaMemory.read returned the wrong number of bytes`,
        this.ctx(this.resolve(path), { phys, length: total }),
      );
    }
    return bytes;
  }

  /** `path`, or (`null`) the path of the pointer `deref` is following. */
  private resolve(path: string | null): string {
    return path ?? this.at(this.lazyBase, this.lazyIndex, this.lazyRel);
  }

  /** Marks a pointee as fully decoded (no longer part of the active pointer chain). */
  leave(state: DecodeState, _phys: number, _length: number): void {
    state.depth--;
  }

  private failBudget(path: string | null, budget: string, limit: number): never {
    throw new SchemaBudgetExceededError(
      `decode budget ${budget} (${limit}) exceeded`,
      this.ctx(this.resolve(path), { budget, limit }),
    );
  }
}
