import { SchemaDeclarationError } from "../errors.js";
import { assertInline } from "./checks.js";
import { assertIdentifier } from "./names.js";
import { registerDescriptor } from "./registry.js";
import type { AreaPointerType, ArrayPointerType, InlineType, PointerType } from "./types.js";

function assertPointee(value: unknown, what: string, direct: boolean): asserts value is InlineType {
  assertInline(value, what);
  if (direct && value.kind === "pointer" && value.nullable) {
    // `null` would be ambiguous: "no pointee" or "a pointee slot holding address 0".
    throw new SchemaDeclarationError(`${what} must not be a nullable pointer (null would be ambiguous)`);
  }
}

function thunk<T extends InlineType>(target: T | (() => T), what: string, direct: boolean): () => T {
  if (typeof target === "function") {
    let resolved: T | undefined;
    return () => {
      if (resolved === undefined) {
        const value = target();
        assertPointee(value, what, direct);
        resolved = value;
      }
      return resolved;
    };
  }
  assertPointee(target, what, direct);
  return () => target;
}

/**
 * A physical pointer field: a u64 physical address of one value of type `target`, stored in
 * memory the driver preserved. The encoder allocates the pointee through the
 * {@link SchemaMemory} and writes its address; the decoder checks the address (alignment,
 * preserved, cycles) before following it. Pass a thunk for recursive declarations.
 *
 * @param target - pointee type (struct, scalar, array, …) or a thunk returning it; not itself a
 *   nullable pointer (`null` would be ambiguous).
 * @param options - `nullable: true` lets address 0 decode to `null`.
 * @example
 * ```ts
 * const Root = struct("root", { table: pointer(Table), parent: pointer(Table, { nullable: true }) });
 * ```
 */
export function pointer<T extends InlineType>(
  target: T | (() => T),
  options: { nullable: true },
): PointerType<T, true>;
/**
 * A non-nullable physical pointer field (see the nullable overload for details).
 *
 * @param target - pointee type or a thunk returning it.
 * @param options - `nullable: false` (the default).
 */
export function pointer<T extends InlineType>(
  target: T | (() => T),
  options?: { nullable?: false },
): PointerType<T, false>;
export function pointer<T extends InlineType>(
  target: T | (() => T),
  options: { nullable?: boolean } = {},
): PointerType<T, boolean> {
  const nullable = options.nullable ?? false;
  if (typeof nullable !== "boolean")
    throw new SchemaDeclarationError("pointer(): nullable must be a boolean");
  return registerDescriptor({
    kind: "pointer" as const,
    target: thunk(target, "pointer() target", true),
    nullable,
  });
}

/**
 * A physical pointer to an array of `element`s whose length is held in the sibling integer field
 * named `count`. The count field is derived: it is omitted from the decoded value, written from the
 * array length on encode (its invariants then bound the length) and checked on decode. Several
 * array pointers may share one count field; their arrays must then have equal lengths. An empty
 * array is encoded as address 0.
 *
 * @param element - element type or a thunk returning it.
 * @param options - `count`: name of the sibling unsigned integer field.
 * @example
 * ```ts
 * const Inode = struct("inode", {
 *   nr_extents: u32({ max: 4096 }),
 *   _r: reserved(4),
 *   extents: arrayPointer(Extent, { count: "nr_extents" }),
 * });
 * ```
 */
export function arrayPointer<E extends InlineType, const C extends string>(
  element: E | (() => E),
  options: { count: C },
): ArrayPointerType<E, C> {
  assertIdentifier(options?.count, "count field");
  return registerDescriptor({
    kind: "arrayPointer" as const,
    element: thunk(element, "arrayPointer() element", false),
    count: options.count,
  });
}

/**
 * A physical pointer to a raw memory area whose byte length is held in the sibling integer field
 * named `length` (derived, like an array-pointer count). Decodes to a `Uint8Array` copy; an empty
 * area is encoded as address 0.
 *
 * @param options - `length`: name of the sibling unsigned integer field; `align`: required address
 *   alignment, a power of two (default 8).
 * @example
 * ```ts
 * const Blob = struct("blob", { len: u32(), _r: reserved(4), data: areaPointer({ length: "len" }) });
 * ```
 */
export function areaPointer<const L extends string>(options: {
  length: L;
  align?: number;
}): AreaPointerType<L> {
  assertIdentifier(options?.length, "length field");
  const align = options.align ?? 8;
  if (!Number.isInteger(align) || align < 1 || align > 1 << 30 || (align & (align - 1)) !== 0) {
    throw new SchemaDeclarationError(`areaPointer(): align must be a power of two, got ${String(align)}`);
  }
  return registerDescriptor({ kind: "areaPointer" as const, length: options.length, align });
}
