import { SchemaDeclarationError } from "../errors.js";
import { isDescriptor } from "./registry.js";
import type { FieldType, InlineType } from "./types.js";

/** Largest size in bytes of any single declared type (1 GiB). */
export const MAX_TYPE_SIZE = 1 << 30;

const INLINE_KINDS = new Set(["scalar", "bool", "chars", "bytes", "array", "struct", "pointer"]);
const FIELD_KINDS = new Set([...INLINE_KINDS, "reserved", "arrayPointer", "areaPointer"]);

/** Throws unless `n` is an integer in `[min, MAX_TYPE_SIZE]`. */
export function assertLength(n: unknown, what: string, min = 1): asserts n is number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > MAX_TYPE_SIZE) {
    throw new SchemaDeclarationError(
      `${what} must be an integer between ${min} and ${MAX_TYPE_SIZE}, got ${String(n)}`,
    );
  }
}

/** Throws unless `type` is a builder-made descriptor usable inline (array element, pointee, struct field). */
export function assertInline(type: unknown, what: string): asserts type is InlineType {
  if (!isDescriptor(type) || !INLINE_KINDS.has((type as { kind?: string }).kind ?? "")) {
    throw new SchemaDeclarationError(
      `${what} must be an inline type made by the DSL builders (scalar, bool, chars, bytes, array, struct or pointer)`,
    );
  }
}

/** Throws unless `type` is any field descriptor. */
export function assertField(type: unknown, what: string): asserts type is FieldType {
  if (!isDescriptor(type) || !FIELD_KINDS.has((type as { kind?: string }).kind ?? "")) {
    throw new SchemaDeclarationError(`${what} is not a schema field descriptor made by the DSL builders`);
  }
}
