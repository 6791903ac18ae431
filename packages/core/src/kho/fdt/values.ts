/**
 * Name validation (public) and the value checks and conversions shared by the tree model and the
 * builder (internal: callers use the typed setters / property helpers, which call these).
 *
 * @module
 */
import { FdtBadNameError, FdtBadValueError } from "./errors.js";

/**
 * Where a value belongs, for error context: a path, or a node whose `path` is computed only when an
 * error is actually reported. @internal
 */
export type FdtWhere = string | { readonly path: string };

/** Resolves an {@link FdtWhere} to a path. @internal */
export function pathOf(where: FdtWhere): string {
  return typeof where === "string" ? where : where.path;
}

/** Largest u64 value. @internal */
export const U64_MAX = (1n << 64n) - 1n;

/** Characters allowed in a node name (the unit address after `@` uses the same set). */
const NODE_CHARS = new Uint8Array(128);
/** Characters allowed in a property name. */
const PROP_CHARS = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,._+-") {
  NODE_CHARS[c.charCodeAt(0)] = 1;
  PROP_CHARS[c.charCodeAt(0)] = 1;
}
for (const c of "*#?") PROP_CHARS[c.charCodeAt(0)] = 1;

/**
 * Whether `name` is a valid devicetree node name: `node-name[@unit-address]`, both parts non-empty
 * and made of `[A-Za-z0-9,._+-]` (the character set dtc's `node_name_chars` check enforces, with a
 * single `@`). The root node's empty name is *not* accepted here.
 */
export function isValidFdtNodeName(name: string): boolean {
  let at = -1;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x40 /* @ */) {
      if (at !== -1) return false;
      at = i;
    } else if (c >= 128 || NODE_CHARS[c] !== 1) {
      return false;
    }
  }
  return name.length > 0 && at !== 0 && at !== name.length - 1;
}

/** Whether `name` is a valid, non-empty devicetree property name made of `[A-Za-z0-9,._+*#?-]`. */
export function isValidFdtPropertyName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || PROP_CHARS[c] !== 1) return false;
  }
  return true;
}

/** Throws {@link FdtBadNameError} unless `name` is a valid property name. @internal */
export function checkPropertyName(name: string, where: FdtWhere): void {
  if (!isValidFdtPropertyName(name)) {
    const path = pathOf(where);
    throw new FdtBadNameError(`invalid FDT property name ${JSON.stringify(name)} in ${path}`, {
      kind: "property",
      name,
      path,
    });
  }
}

/** Throws {@link FdtBadValueError} unless `value` is an integer in `[0, 0xffffffff]`. @internal */
export function checkU32(value: number, where: FdtWhere, property: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    const path = pathOf(where);
    throw new FdtBadValueError(`property ${property} of ${path}: ${String(value)} is not a u32`, {
      path,
      property,
      value,
      expected: "u32",
    });
  }
  return value;
}

/** Converts a u64 given as bigint or safe non-negative integer, or throws {@link FdtBadValueError}. @internal */
export function toU64(value: bigint | number, where: FdtWhere, property: string): bigint {
  if (typeof value === "number") {
    if (Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  } else if (typeof value === "bigint" && value >= 0n && value <= U64_MAX) {
    return value;
  }
  const path = pathOf(where);
  throw new FdtBadValueError(`property ${property} of ${path}: ${String(value)} is not a u64`, {
    path,
    property,
    value,
    expected: "u64",
  });
}

/** Throws {@link FdtBadValueError} if a string value contains NUL (it would end the string). @internal */
export function checkNoNul(value: string, where: FdtWhere, property: string): void {
  if (value.includes("\0")) {
    const path = pathOf(where);
    throw new FdtBadValueError(`property ${property} of ${path}: string value contains NUL`, {
      path,
      property,
      value,
      expected: "string without NUL",
    });
  }
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Encodes strings as consecutive NUL-terminated UTF-8 (the FDT string-list encoding). @internal */
export function encodeStringList(values: readonly string[], where: FdtWhere, property: string): Uint8Array {
  const parts = values.map((v) => {
    checkNoNul(v, where, property);
    return utf8Encoder.encode(v);
  });
  let length = 0;
  for (const p of parts) length += p.length + 1;
  const out = new Uint8Array(length);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length + 1;
  }
  return out;
}

/** Decodes one UTF-8 string, or throws {@link FdtBadValueError}. @internal */
export function decodeUtf8(bytes: Uint8Array, where: FdtWhere, property: string): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    const path = pathOf(where);
    throw new FdtBadValueError(`property ${property} of ${path}: not valid UTF-8`, {
      path,
      property,
      length: bytes.length,
      expected: "UTF-8 string",
    });
  }
}
