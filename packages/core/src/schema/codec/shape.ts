import type { AnyStruct, FieldType } from "../declare/types.js";

/**
 * Structural facts the code generator needs.
 *
 * @internal
 * @module
 */

const structHasPointers = new WeakMap<AnyStruct, boolean>();

/** Whether values of `type` contain any pointer inline (so encoding/decoding touches memory). */
export function hasPointers(type: FieldType): boolean {
  switch (type.kind) {
    case "pointer":
    case "arrayPointer":
    case "areaPointer":
      return true;
    case "array":
      return hasPointers(type.element);
    case "struct": {
      let known = structHasPointers.get(type);
      if (known === undefined) {
        known = Object.values(type.fields).some(hasPointers);
        structHasPointers.set(type, known);
      }
      return known;
    }
    default:
      return false;
  }
}

/** Names of the fields of `struct` that are derived counts/lengths, mapped to their role. */
export function derivedFields(struct: AnyStruct): Map<string, { role: "count" | "length"; of: string[] }> {
  const out = new Map<string, { role: "count" | "length"; of: string[] }>();
  for (const [name, type] of Object.entries(struct.fields)) {
    if (type.kind !== "arrayPointer" && type.kind !== "areaPointer") continue;
    const ref = type.kind === "arrayPointer" ? type.count : type.length;
    const entry = out.get(ref) ?? {
      role: type.kind === "arrayPointer" ? ("count" as const) : ("length" as const),
      of: [],
    };
    entry.of.push(name);
    out.set(ref, entry);
  }
  return out;
}
