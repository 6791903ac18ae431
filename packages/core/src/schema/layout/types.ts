import type { ScalarName } from "../declare/types.js";

/** Identifies the layout description format; bumped if the JSON shape ever changes. */
export const LAYOUT_FORMAT = "liveupdate.schema.layout/1" as const;

/** One member of an enum invariant in a layout. */
export interface EnumMemberLayout {
  /** Symbolic name (absent for list-declared enums). */
  readonly name?: string;
  /** Value as a decimal string. */
  readonly value: string;
}

/** Invariants of an integer field; integers are decimal strings so 64-bit values stay exact in JSON. */
export interface InvariantsLayout {
  /** Smallest allowed value. */
  readonly min?: string;
  /** Largest allowed value. */
  readonly max?: string;
  /** Allowed values with their symbolic names. */
  readonly enum?: readonly EnumMemberLayout[];
  /** Allowed bits. */
  readonly mask?: string;
  /** Present (and `true`) when the field must be zero. */
  readonly mustBeZero?: true;
}

/** An integer field. */
export interface ScalarLayout {
  /** Discriminant. */
  readonly kind: "scalar";
  /** Integer kind. */
  readonly scalar: ScalarName;
  /** Declared invariants (absent when none). */
  readonly invariants?: InvariantsLayout;
  /** Present on a folio field (`folio()`): the address of a folio preserved in place. */
  readonly folio?: FolioLayout;
}

/** A folio field's declaration in a layout (see `folio()`). */
export interface FolioLayout {
  /** Folio order (`4096 << order` bytes). */
  readonly order: number;
  /** Whether 0 means "no folio". */
  readonly nullable: boolean;
}

/** A one-byte boolean (0 or 1). */
export interface BoolLayout {
  /** Discriminant. */
  readonly kind: "bool";
}

/** A `char[length]` UTF-8 string, NUL padded. */
export interface CharsLayout {
  /** Discriminant. */
  readonly kind: "chars";
  /** Size in bytes. */
  readonly length: number;
  /** Whether a NUL must follow the text. */
  readonly nulTerminated: boolean;
}

/** Raw inline bytes (`kind: "bytes"`), explicit reserved bytes (`"reserved"`) or implicit alignment padding (`"padding"`). */
export interface BlobLayout {
  /** Discriminant. */
  readonly kind: "bytes" | "reserved" | "padding";
  /** Size in bytes. */
  readonly length: number;
}

/** A fixed-length inline array. */
export interface ArrayLayout {
  /** Discriminant. */
  readonly kind: "array";
  /** Number of elements. */
  readonly length: number;
  /** Element type. */
  readonly element: TypeLayout;
}

/** A nested struct, by name (described in {@link SchemaLayout.structs}). */
export interface StructRefLayout {
  /** Discriminant. */
  readonly kind: "struct";
  /** Struct name. */
  readonly name: string;
}

/** A u64 physical pointer to one value. */
export interface PointerLayout {
  /** Discriminant. */
  readonly kind: "pointer";
  /** Whether address 0 means `null`. */
  readonly nullable: boolean;
  /** Pointee type. */
  readonly target: TypeLayout;
  /** Pointee size in bytes. */
  readonly targetSize: number;
  /** Required pointee alignment. */
  readonly targetAlign: number;
}

/** A u64 physical pointer to `count` consecutive elements. */
export interface ArrayPointerLayout {
  /** Discriminant. */
  readonly kind: "arrayPointer";
  /** Name of the sibling count field. */
  readonly count: string;
  /** Element type. */
  readonly element: TypeLayout;
  /** Element size (= stride) in bytes. */
  readonly elementSize: number;
  /** Required alignment of the array. */
  readonly elementAlign: number;
}

/** A u64 physical pointer to a raw memory area of `length` bytes. */
export interface AreaPointerLayout {
  /** Discriminant. */
  readonly kind: "areaPointer";
  /** Name of the sibling length field (bytes). */
  readonly length: string;
  /** Required alignment of the area. */
  readonly align: number;
}

/**
 * The byte-level meaning of one type, as JSON. Structs are referenced by name and described once
 * in {@link SchemaLayout.structs}; pointee types are described inline.
 */
export type TypeLayout =
  | ScalarLayout
  | BoolLayout
  | CharsLayout
  | BlobLayout
  | ArrayLayout
  | StructRefLayout
  | PointerLayout
  | ArrayPointerLayout
  | AreaPointerLayout;

/** Marks a derived count/length field. */
export interface DerivedLayout {
  /** `count` (of array pointers) or `length` (of an area pointer, in bytes). */
  readonly role: "count" | "length";
  /** The pointer fields whose length this field holds. */
  readonly of: readonly string[];
}

/** One field (or implicit padding, `type.kind === "padding"`) of a struct. */
export interface FieldLayout {
  /** Field name; implicit padding is named `__pad<offset>`. */
  readonly name: string;
  /** Byte offset inside the struct. */
  readonly offset: number;
  /** Size in bytes (8 for every pointer kind). */
  readonly size: number;
  /** Natural alignment in bytes. */
  readonly align: number;
  /** Byte-level type. */
  readonly type: TypeLayout;
  /**
   * Present on count/length fields: the field is derived from the length of the listed pointer
   * fields and is not part of the decoded value.
   */
  readonly derived?: DerivedLayout;
}

/** One struct: name, size, alignment and every byte accounted for by a field or padding. */
export interface StructLayout {
  /** C identifier. */
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
  /** Alignment in bytes. */
  readonly align: number;
  /** Whether the struct is packed. */
  readonly packed: boolean;
  /** Fields and implicit padding, in offset order, covering `[0, size)` exactly. */
  readonly fields: readonly FieldLayout[];
}

/**
 * Canonical, JSON-serialisable description of a schema version: the root struct and every struct
 * reachable from it (inline or through pointers), each once, root first then in depth-first field
 * order.
 */
export interface SchemaLayout {
  /** Always {@link LAYOUT_FORMAT}. */
  readonly format: typeof LAYOUT_FORMAT;
  /** Name of the root struct. */
  readonly root: string;
  /** Size in bytes of the root struct (the fixed size of the version). */
  readonly size: number;
  /** Alignment of the root struct. */
  readonly align: number;
  /** Every reachable struct, root first. */
  readonly structs: readonly StructLayout[];
}
