import { alignOf, placeStruct } from "../declare/size.js";
import type { AnyStruct, Infer } from "../declare/types.js";
import { SchemaShortBufferError, SchemaTrailingBytesError } from "../errors.js";
import { layoutOf } from "../layout/describe.js";
import type { SchemaMemory } from "../memory/memory.js";
import type { DecodeBudget } from "./budget.js";
import { Program } from "./program.js";
import { type CodecLabel, CodecRuntime, DecodeState } from "./runtime.js";
import { hasPointers } from "./shape.js";

type EncodeFn = (
  v: unknown,
  u8: Uint8Array,
  dv: DataView,
  o: number,
  c: SchemaMemory | null,
  p: string,
) => void;
type DecodeFn = (
  u8: Uint8Array,
  dv: DataView,
  o: number,
  c: DecodeState | null,
  p: string,
  i: number,
) => unknown;

/**
 * A compiled binary codec for one struct (one schema version). Encode and decode are specialised
 * JavaScript functions generated once from the declaration: straight-line `DataView` accesses at
 * constant offsets, invariant checks inline, no per-field interpretation.
 *
 * Both directions check every invariant; decode additionally refuses non-zero reserved/padding
 * bytes and checks every pointer against the {@link SchemaMemory} before following it. Errors are
 * {@link SchemaError}s naming the driver, version and field path.
 *
 * @typeParam V - the decoded value type (`Infer<typeof Struct>`).
 * @example
 * ```ts
 * const codec = codecFor(InodeV1);
 * const memory = new InMemorySchemaMemory();
 * const bytes = codec.encode(inode, memory);  // extents stored in `memory`
 * const back = codec.decode(bytes, memory);   // deep-equal to `inode`
 * ```
 */
export interface Codec<V> {
  /** The struct this codec was generated from. */
  readonly struct: AnyStruct;
  /** Fixed size in bytes of the encoded root struct. */
  readonly size: number;
  /** Alignment of the root struct. */
  readonly align: number;
  /** Whether the struct contains pointers (encode/decode then need a {@link SchemaMemory}). */
  readonly hasPointers: boolean;
  /** Who errors are attributed to (driver and version). */
  readonly label: CodecLabel;
  /** The generated JavaScript source, for inspection and debugging. */
  readonly source: string;
  /**
   * Encodes `value` into a new buffer of exactly {@link Codec.size} bytes, allocating pointees in
   * `memory`. On failure, pointees already allocated are not freed.
   *
   * Small outputs are views into a shared slab (as Node's `Buffer` pool does): the bytes are yours,
   * but `.buffer` is shared, so build a `DataView` with `byteOffset`/`byteLength`.
   */
  encode(value: V, memory?: SchemaMemory): Uint8Array;
  /** Encodes `value` into `target` at `offset` (all {@link Codec.size} bytes are written). */
  encodeInto(value: V, target: Uint8Array, offset?: number, memory?: SchemaMemory): void;
  /**
   * Decodes a buffer of exactly {@link Codec.size} bytes (shorter: `SCHEMA_SHORT_BUFFER`, longer:
   * `SCHEMA_TRAILING_BYTES`), following pointers into `memory` within `budget`.
   */
  decode(bytes: Uint8Array, memory?: SchemaMemory, budget?: DecodeBudget): V;
  /** Decodes {@link Codec.size} bytes at `offset` of `bytes` (bytes beyond are ignored). */
  decodeAt(bytes: Uint8Array, offset: number, memory?: SchemaMemory, budget?: DecodeBudget): V;
  /** Encodes `value` into freshly allocated preserved memory and returns its physical address. */
  store(value: V, memory: SchemaMemory): number;
  /** Decodes the struct at physical address `phys` (which must be preserved and aligned). */
  load(memory: SchemaMemory, phys: number, budget?: DecodeBudget): V;
}

const cache = new WeakMap<AnyStruct, Map<string, Codec<unknown>>>();

function compile(struct: AnyStruct, label: CodecLabel): Codec<unknown> {
  layoutOf(struct); // resolves every pointee and rejects conflicting struct names up front
  const placement = placeStruct(struct);
  const size = placement.size;
  const pointers = hasPointers(struct);
  const align = alignOf(struct);
  const source = new Program().generate(struct);
  const runtime = new CodecRuntime(label);
  const fns = new Function("h", source)(runtime) as { encode: EncodeFn; decode: DecodeFn };
  const encodeFn = fns.encode;
  const decodeFn = fns.decode;
  // Views over a whole ArrayBuffer, cached by buffer: many small inputs (e.g. slab outputs) share
  // one buffer, and creating a DataView per call costs as much as a small decode.
  let lastBuffer: ArrayBufferLike | undefined;
  let lastU8: Uint8Array | undefined;
  let lastView: DataView | undefined;
  const whole = (bytes: Uint8Array): void => {
    if (bytes.buffer !== lastBuffer) {
      lastBuffer = bytes.buffer;
      lastU8 = new Uint8Array(bytes.buffer);
      lastView = new DataView(bytes.buffer);
    }
  };
  const checkBuffer = (bytes: Uint8Array, offset: number): void => {
    if (!(bytes instanceof Uint8Array)) runtime.failType("", "a Uint8Array", bytes);
    if (!Number.isSafeInteger(offset) || offset < 0)
      runtime.failType("", "a non-negative integer offset", offset);
    if (bytes.length - offset < size) {
      throw new SchemaShortBufferError(
        `buffer has ${Math.max(0, bytes.length - offset)} bytes at offset ${offset}, struct ${struct.name} needs ${size}`,
        runtime.ctx("", { available: Math.max(0, bytes.length - offset), size }),
      );
    }
  };
  const decodeAt = (
    bytes: Uint8Array,
    offset: number,
    memory?: SchemaMemory,
    budget?: DecodeBudget,
  ): unknown => {
    checkBuffer(bytes, offset);
    const state = pointers ? new DecodeState(memory ?? null, budget) : null;
    whole(bytes);
    return decodeFn(lastU8!, lastView!, bytes.byteOffset + offset, state, "", -1);
  };
  const codec: Codec<unknown> = {
    struct,
    size,
    align: placement.align,
    hasPointers: pointers,
    label,
    source,
    encode(value, memory) {
      if (size > SLAB_SIZE / 4) {
        const out = new Uint8Array(size);
        encodeFn(value, out, new DataView(out.buffer), 0, memory ?? null, "");
        return out;
      }
      // Claim the region before encoding: pointee encoders may take slab space re-entrantly.
      const at = slabReserve(size);
      const { u8, view } = slab;
      slab.cursor = at + size;
      encodeFn(value, u8, view, at, memory ?? null, "");
      return new Uint8Array(u8.buffer, at, size);
    },
    encodeInto(value, target, offset = 0, memory) {
      checkBuffer(target, offset);
      whole(target);
      encodeFn(value, lastU8!, lastView!, target.byteOffset + offset, memory ?? null, "");
    },
    decode(bytes, memory, budget) {
      if (bytes instanceof Uint8Array && bytes.length > size) {
        throw new SchemaTrailingBytesError(
          `buffer has ${bytes.length} bytes, struct ${struct.name} has exactly ${size}`,
          runtime.ctx("", { length: bytes.length, size }),
        );
      }
      return decodeAt(bytes, 0, memory, budget);
    },
    decodeAt,
    store(value, memory) {
      const bytes = codec.encode(value, memory);
      return runtime.store(memory, bytes, alignOf(struct), "");
    },
    load(memory, phys, budget) {
      if (typeof phys !== "number" || !Number.isSafeInteger(phys) || phys <= 0) {
        runtime.failType("", "a positive safe-integer physical address", phys);
      }
      if (!pointers) {
        const bytes = runtime.derefRoot(memory, phys, size, align, budget);
        whole(bytes);
        return decodeFn(lastU8!, lastView!, bytes.byteOffset, null, "", -1);
      }
      const state = new DecodeState(memory, budget);
      const bytes = runtime.deref(state, phys, 1, size, align, "", -1, "");
      return decodeFn(runtime.u8Of(bytes), runtime.dvOf(bytes), bytes.byteOffset, state, "", -1);
    },
  };
  return Object.freeze(codec);
}

/**
 * Small encode outputs are carved from shared 16 KiB slabs (never reused once handed out):
 * allocating a fresh `Uint8Array` per call costs ~0.5 µs, more than encoding a 270-byte struct.
 * The generated encoders write every byte (padding and reserved included), so no zeroing is needed.
 * Like Node's `Buffer` pool, outputs share an underlying `ArrayBuffer`; use `byteOffset`.
 */
const SLAB_SIZE = 16 * 1024;
const slab = { u8: new Uint8Array(SLAB_SIZE), view: new DataView(new ArrayBuffer(0)), cursor: 0 };
slab.view = new DataView(slab.u8.buffer);

function slabReserve(size: number): number {
  const at = (slab.cursor + 7) & ~7; // keep outputs 8-byte aligned, like the structs they hold
  if (at + size <= SLAB_SIZE) return at;
  slab.u8 = new Uint8Array(SLAB_SIZE);
  slab.view = new DataView(slab.u8.buffer);
  slab.cursor = 0;
  return 0;
}

/**
 * The compiled codec of `struct` (generated on first use and cached per struct and label).
 *
 * @param struct - the root struct.
 * @param label - who errors are attributed to; defaults to `{ driver: struct.name }`. Versioned
 *   schemas pass their name and version.
 * @example
 * ```ts
 * const codec = codecFor(ExtentV1);
 * const bytes = codec.encode({ phys: 0x20_0000n, pages: 512, flags: 1 });
 * codec.decode(bytes); // { phys: 2097152n, pages: 512, flags: 1 }
 * ```
 */
export function codecFor<S extends AnyStruct>(struct: S, label?: CodecLabel): Codec<Infer<S>> {
  const effective: CodecLabel = label ?? { driver: struct.name };
  const key = `${effective.driver}\u0000${effective.version ?? ""}`;
  let perStruct = cache.get(struct);
  if (perStruct === undefined) {
    perStruct = new Map();
    cache.set(struct, perStruct);
  }
  let codec = perStruct.get(key);
  if (codec === undefined) {
    codec = compile(struct, effective);
    perStruct.set(key, codec);
  }
  return codec as Codec<Infer<S>>;
}
