import { SCALAR_INFO } from "./scalar-info.js";
import type { AnyStruct, FieldType } from "./types.js";

/** Size in bytes of a physical pointer (a u64 physical address). */
export const POINTER_SIZE = 8;

/** Placement of one field, or of implicit padding, inside a struct. */
export interface FieldPlacement {
  /** Field name; implicit padding is named `__pad<offset>`. */
  readonly name: string;
  /** Byte offset from the start of the struct. */
  readonly offset: number;
  /** Size in bytes. */
  readonly size: number;
  /** Natural alignment in bytes. */
  readonly align: number;
  /** The declared type (`undefined` for implicit padding). */
  readonly type: FieldType | undefined;
}

/** Size, alignment and field placements of a struct. */
export interface StructPlacement {
  /** Total size including trailing padding. */
  readonly size: number;
  /** Alignment (the largest field alignment; 1 when packed). */
  readonly align: number;
  /** Declared fields and implicit padding, in offset order. */
  readonly fields: readonly FieldPlacement[];
}

const placements = new WeakMap<AnyStruct, StructPlacement>();

/** Natural alignment of a field type (C rules as on x86-64/arm64: 8-byte u64 alignment). */
export function alignOf(type: FieldType): number {
  switch (type.kind) {
    case "scalar":
      return SCALAR_INFO[type.scalar].size;
    case "bool":
    case "chars":
    case "bytes":
    case "reserved":
      return 1;
    case "array":
      return alignOf(type.element);
    case "struct":
      return placeStruct(type).align;
    case "pointer":
    case "arrayPointer":
    case "areaPointer":
      return POINTER_SIZE;
  }
}

/** Size in bytes of a field type (pointers are 8: only the address is inline). */
export function sizeOf(type: FieldType): number {
  switch (type.kind) {
    case "scalar":
      return SCALAR_INFO[type.scalar].size;
    case "bool":
      return 1;
    case "chars":
    case "bytes":
    case "reserved":
      return type.length;
    case "array":
      return sizeOf(type.element) * type.length;
    case "struct":
      return placeStruct(type).size;
    case "pointer":
    case "arrayPointer":
    case "areaPointer":
      return POINTER_SIZE;
  }
}

/**
 * Computes (and caches) the C layout of a struct: each field at the next offset aligned to its
 * natural alignment, implicit padding made explicit as `__pad<offset>` entries, size rounded up to
 * the struct alignment. Packed structs get no padding and alignment 1.
 *
 * @param struct - the struct declaration.
 */
export function placeStruct(struct: AnyStruct): StructPlacement {
  const cached = placements.get(struct);
  if (cached !== undefined) return cached;
  const fields: FieldPlacement[] = [];
  let offset = 0;
  let align = 1;
  const pad = (to: number) => {
    if (to > offset) {
      fields.push(
        Object.freeze({ name: `__pad${offset}`, offset, size: to - offset, align: 1, type: undefined }),
      );
      offset = to;
    }
  };
  for (const [name, type] of Object.entries(struct.fields)) {
    const a = struct.packed ? 1 : alignOf(type);
    align = Math.max(align, a);
    pad(Math.ceil(offset / a) * a);
    const size = sizeOf(type);
    fields.push(Object.freeze({ name, offset, size, align: alignOf(type), type }));
    offset += size;
  }
  pad(Math.ceil(offset / align) * align);
  const placement = Object.freeze({ size: offset, align, fields: Object.freeze(fields) });
  placements.set(struct, placement);
  return placement;
}
