import { SchemaDeclarationError } from "../errors.js";
import { assertInline, assertLength } from "./checks.js";
import { registerDescriptor } from "./registry.js";
import type { ArrayType, BytesType, CharsType, InlineType, ReservedType } from "./types.js";

/** Options of {@link chars}. */
export interface CharsOptions {
  /**
   * Require a NUL after the text (default `true`): at most `N - 1` bytes of text. With `false` the
   * text may fill all `N` bytes (like `char magic[4]`).
   */
  readonly nulTerminated?: boolean;
}

/**
 * A fixed `char[N]` string field: UTF-8, NUL padded. Decode refuses a missing terminator (unless
 * `nulTerminated: false`), non-zero bytes after the first NUL, and invalid UTF-8; encode refuses
 * strings that contain NUL or do not fit.
 *
 * @param length - `N`, the field size in bytes.
 * @param options - terminator policy.
 * @example
 * ```ts
 * const Inode = struct("inode", { name: chars(32), ino: u32() });
 * ```
 */
export function chars(length: number, options: CharsOptions = {}): CharsType {
  const nulTerminated = options.nulTerminated ?? true;
  if (typeof nulTerminated !== "boolean")
    throw new SchemaDeclarationError("chars(): nulTerminated must be a boolean");
  assertLength(length, "chars() length");
  return registerDescriptor({ kind: "chars" as const, length, nulTerminated });
}

/**
 * An inline fixed-size byte blob field, decoded as a `Uint8Array` of exactly `length` bytes.
 *
 * @param length - size in bytes.
 * @example
 * ```ts
 * const Dev = struct("dev", { config_space: bytes(256) });
 * ```
 */
export function bytes(length: number): BytesType {
  assertLength(length, "bytes() length");
  return registerDescriptor({ kind: "bytes" as const, length });
}

/**
 * Reserved bytes: written as zero, refused on decode unless zero, absent from the decoded value.
 * Use them to make padding explicit and to keep room for later versions.
 *
 * @param length - size in bytes.
 * @example
 * ```ts
 * const Hdr = struct("hdr", { kind: u8(), _r0: reserved(3), len: u32() });
 * ```
 */
export function reserved(length: number): ReservedType {
  assertLength(length, "reserved() length");
  return registerDescriptor({ kind: "reserved" as const, length });
}

/**
 * A fixed-length inline array `element[length]`, decoded as a JavaScript array of exactly `length`
 * elements.
 *
 * @param element - element type (any inline type, including structs and pointers).
 * @param length - number of elements (≥ 1).
 * @example
 * ```ts
 * const Regs = struct("regs", { r: array(u32(), 32) });
 * ```
 */
export function array<E extends InlineType>(element: E, length: number): ArrayType<E> {
  assertInline(element, "array() element");
  assertLength(length, "array() length");
  return registerDescriptor({ kind: "array" as const, element, length });
}
