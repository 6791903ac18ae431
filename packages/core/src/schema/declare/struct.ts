import { SchemaDeclarationError } from "../errors.js";
import { assertField, MAX_TYPE_SIZE } from "./checks.js";
import { assertIdentifier } from "./names.js";
import { registerDescriptor } from "./registry.js";
import { placeStruct } from "./size.js";
import type { Fields, StructOptions, StructType } from "./types.js";

/**
 * Declares a C struct: fields in declaration order with natural alignment, little-endian, fixed
 * size. Implicit alignment padding is must-be-zero like `reserved` fields. Count and length fields
 * of `arrayPointer`/`areaPointer` must be sibling unsigned integer fields of the same struct.
 *
 * Throws a {@link SchemaDeclarationError} for invalid names, unknown or ill-typed count fields,
 * an empty struct, or a size above 1 GiB.
 *
 * @param name - C identifier of the struct.
 * @param fields - field declarations, in layout order.
 * @param options - `packed` for packed layouts.
 * @example
 * ```ts
 * const ExtentV1 = struct("guestmemfs_extent", {
 *   phys: u64(),
 *   pages: u32({ min: 1 }),
 *   flags: u32({ mask: 0x3 }),
 * });
 * type ExtentV1 = Infer<typeof ExtentV1>; // { phys: bigint; pages: number; flags: number }
 * ```
 */
export function struct<const F extends Fields>(
  name: string,
  fields: F,
  options: StructOptions = {},
): StructType<F> {
  assertIdentifier(name, "struct");
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    throw new SchemaDeclarationError(`struct ${name}: fields must be an object`, { driver: name });
  }
  const entries = Object.entries(fields);
  if (entries.length === 0)
    throw new SchemaDeclarationError(`struct ${name}: a struct needs at least one field`);
  for (const [field, type] of entries) {
    assertIdentifier(field, "field", { driver: name, path: field });
    assertField(type, `struct ${name}: field ${field}`);
  }
  checkDerivedFields(name, fields);
  const packed = options.packed ?? false;
  if (typeof packed !== "boolean")
    throw new SchemaDeclarationError(`struct ${name}: packed must be a boolean`);
  const declared = registerDescriptor({
    kind: "struct" as const,
    name,
    fields: Object.freeze({ ...fields }),
    packed,
  });
  const size = placeStruct(declared).size;
  if (size > MAX_TYPE_SIZE) {
    throw new SchemaDeclarationError(`struct ${name}: size ${size} exceeds ${MAX_TYPE_SIZE} bytes`, {
      driver: name,
    });
  }
  return declared as StructType<F>;
}

function checkDerivedFields(name: string, fields: Fields): void {
  const roles = new Map<string, "count" | "length">();
  for (const [field, type] of Object.entries(fields)) {
    if (type.kind !== "arrayPointer" && type.kind !== "areaPointer") continue;
    const ref = type.kind === "arrayPointer" ? type.count : type.length;
    const role = type.kind === "arrayPointer" ? "count" : "length";
    const target = Object.hasOwn(fields, ref) ? fields[ref] : undefined;
    const context = { driver: name, path: field };
    if (target === undefined) {
      throw new SchemaDeclarationError(
        `struct ${name}: ${field} refers to unknown ${role} field ${ref}`,
        context,
      );
    }
    if (target.kind !== "scalar" || target.scalar.startsWith("i")) {
      throw new SchemaDeclarationError(
        `struct ${name}: ${role} field ${ref} of ${field} must be an unsigned integer field`,
        context,
      );
    }
    const previous = roles.get(ref);
    if (previous !== undefined && (previous !== role || role === "length")) {
      throw new SchemaDeclarationError(
        `struct ${name}: field ${ref} is already the ${previous} of another pointer; a length field serves one area`,
        context,
      );
    }
    roles.set(ref, role);
  }
}
