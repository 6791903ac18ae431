/**
 * The declaration vocabulary: every schema is plain data built from these descriptors. Each
 * descriptor carries a phantom `_value` type so {@link Infer} yields the TypeScript type of the
 * decoded value.
 *
 * @module
 */

/** Fixed-width integer kinds, little-endian, naturally aligned (alignment = size). */
export type ScalarName = "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64";

/** The 64-bit integer kinds, decoded as `bigint`. */
export type BigScalarName = "u64" | "i64";

/** The integer kinds of at most 32 bits, decoded as `number`. */
export type SmallScalarName = Exclude<ScalarName, BigScalarName>;

/**
 * Phantom carrier of the decoded value type `V`. Never set at runtime; it only lets {@link Infer}
 * recover `V` from a descriptor.
 */
export interface TypeBase<V> {
  /** Phantom: the TypeScript type of a decoded value. Always `undefined` at runtime. */
  readonly _value?: V;
}

/** One named member of an enum invariant. */
export interface EnumMember<V extends number | bigint> {
  /** Symbolic name (a C identifier when declared as a record; `undefined` when declared as a list). */
  readonly name: string | undefined;
  /** The numeric value. */
  readonly value: V;
}

/**
 * Invariants as the user writes them on an integer field. All are checked on encode **and** decode.
 *
 * @example
 * ```ts
 * u32({ min: 1, max: 4096 });
 * u8({ enum: { file: 1, dir: 2 } });
 * u32({ mask: 0x3 });          // only bits 0 and 1 may be set
 * u64({ mustBeZero: true });   // declared for later use; must be 0 in this version
 * ```
 */
export interface IntInvariantOptions<V extends number | bigint> {
  /** Smallest allowed value (inclusive). */
  readonly min?: V;
  /** Largest allowed value (inclusive). */
  readonly max?: V;
  /** Allowed values, as `{ name: value }` (names become C macros) or as a plain list. */
  readonly enum?: Readonly<Record<string, V>> | readonly V[];
  /** Bits that may be set; any bit outside the mask is a violation. */
  readonly mask?: V;
  /** The field must be zero. */
  readonly mustBeZero?: boolean;
}

/** Normalised invariants stored on a scalar descriptor. */
export interface IntInvariants<V extends number | bigint> {
  /** Smallest allowed value (inclusive), if declared. */
  readonly min?: V;
  /** Largest allowed value (inclusive), if declared. */
  readonly max?: V;
  /** Allowed values, in declaration order, if declared. */
  readonly enum?: readonly EnumMember<V>[];
  /** Allowed bits, if declared. */
  readonly mask?: V;
  /** `true` when the field must be zero. */
  readonly mustBeZero: boolean;
}

/** An integer field (`u8` … `i64`). 64-bit kinds decode to `bigint`, the others to `number`. */
export interface ScalarType<N extends ScalarName = ScalarName, V extends number | bigint = number | bigint>
  extends TypeBase<V> {
  /** Discriminant. */
  readonly kind: "scalar";
  /** The integer kind. */
  readonly scalar: N;
  /** Declared invariants. */
  readonly invariants: IntInvariants<V>;
  /** Set by {@link folio}: the field is the physical address of a folio preserved in place. */
  readonly folio?: FolioSpec;
}

/** What {@link folio} declares about a folio address field. */
export interface FolioSpec {
  /** Folio order: the folio is `4096 << order` bytes, and its address is aligned to that size. */
  readonly order: number;
  /** Whether address 0 means "no folio" (and is not checked against the preserved folios). */
  readonly nullable: boolean;
}

/**
 * A folio address field (made by {@link folio}): a `u64` on the wire holding the physical address
 * of a folio the object preserved in place (mirrors `kho_preserve_folio`). The folio's contents
 * never enter the handover; the address is aligned to the folio size (a mask invariant) and checked
 * against the object's preserved folios when serialized and when restored.
 */
export type FolioType = ScalarType<"u64", bigint> & { readonly folio: FolioSpec };

/** A one-byte boolean: 0 = `false`, 1 = `true`, anything else is refused on decode. */
export interface BoolType extends TypeBase<boolean> {
  /** Discriminant. */
  readonly kind: "bool";
}

/**
 * A fixed `char[N]` string, UTF-8, NUL padded. With `nulTerminated` (the default) at most `N - 1`
 * bytes of text fit, so C code can treat it as a C string.
 */
export interface CharsType extends TypeBase<string> {
  /** Discriminant. */
  readonly kind: "chars";
  /** `N`, the field size in bytes. */
  readonly length: number;
  /** Whether at least one NUL byte must follow the text. */
  readonly nulTerminated: boolean;
}

/** An inline fixed-size byte blob (`u8[N]` seen as raw bytes), decoded as a `Uint8Array` copy. */
export interface BytesType extends TypeBase<Uint8Array> {
  /** Discriminant. */
  readonly kind: "bytes";
  /** Size in bytes. */
  readonly length: number;
}

/** Reserved bytes: must be zero on decode, written as zero on encode, absent from the value. */
export interface ReservedType extends TypeBase<never> {
  /** Discriminant. */
  readonly kind: "reserved";
  /** Size in bytes. */
  readonly length: number;
}

/** A fixed-length inline array `T[N]`. */
export interface ArrayType<E extends InlineType = InlineType> extends TypeBase<Infer<E>[]> {
  /** Discriminant. */
  readonly kind: "array";
  /** Element type. */
  readonly element: E;
  /** Number of elements (≥ 1). */
  readonly length: number;
}

/** Field declarations of a struct, in declaration order (which is the layout order). */
export type Fields = { readonly [name: string]: FieldType };

/** Options of {@link struct}. */
export interface StructOptions {
  /**
   * No implicit alignment padding and alignment 1 (C `__attribute__((packed))`). Only for mirroring
   * existing packed kernel formats; prefer natural alignment with explicit `reserved` fields.
   */
  readonly packed?: boolean;
}

/** A C struct: named fields laid out in declaration order with natural alignment. */
export interface StructType<F extends Fields = Fields, V = InferFields<F>> extends TypeBase<V> {
  /** Discriminant. */
  readonly kind: "struct";
  /** C identifier of the struct (becomes `struct <name>` in C headers). */
  readonly name: string;
  /** Field declarations, in layout order. */
  readonly fields: F;
  /** Whether the struct is packed (see {@link StructOptions.packed}). */
  readonly packed: boolean;
}

/**
 * A struct whose decoded value type is `V`; use it to annotate recursive declarations.
 *
 * @example
 * ```ts
 * interface ListNode { value: number; next: ListNode | null }
 * const ListNode: StructOf<ListNode> = struct("list_node", {
 *   value: u32(),
 *   next: pointer((): StructOf<ListNode> => ListNode, { nullable: true }),
 * });
 * ```
 */
export type StructOf<V> = StructType<Fields, V>;

/** Any struct descriptor. */
// biome-ignore lint/suspicious/noExplicitAny: the value type is existential here
export type AnyStruct = StructType<Fields, any>;

/**
 * A physical pointer (u64 physical address) to one value of type `T` living in preserved memory.
 * With `nullable`, address 0 decodes to `null`.
 */
export interface PointerType<T extends InlineType = InlineType, N extends boolean = boolean>
  extends TypeBase<N extends true ? Infer<T> | null : Infer<T>> {
  /** Discriminant. */
  readonly kind: "pointer";
  /** Resolves the pointee type (a thunk, so declarations may be recursive). */
  readonly target: () => T;
  /** Whether address 0 (null) is allowed. */
  readonly nullable: N;
}

/**
 * A physical pointer to `count` consecutive elements of type `E`, where `count` is a sibling
 * integer field. The count field is **derived**: it is not part of the decoded value; the encoder
 * writes the array length into it and checks the count field's invariants against that length, the
 * decoder reads it, checks it and returns an array of that length. An empty array is encoded as
 * address 0 with count 0, and decode requires exactly that.
 */
export interface ArrayPointerType<E extends InlineType = InlineType, C extends string = string>
  extends TypeBase<Infer<E>[]> {
  /** Discriminant. */
  readonly kind: "arrayPointer";
  /** Resolves the element type (a thunk, so declarations may be recursive). */
  readonly element: () => E;
  /** Name of the sibling unsigned integer field holding the element count. */
  readonly count: C;
}

/**
 * A physical pointer to a raw memory area of `length` bytes, where `length` is a sibling unsigned
 * integer field (derived like an array-pointer count). Decodes to a `Uint8Array` copy of the area;
 * an empty area is address 0 with length 0.
 */
export interface AreaPointerType<L extends string = string> extends TypeBase<Uint8Array> {
  /** Discriminant. */
  readonly kind: "areaPointer";
  /** Name of the sibling unsigned integer field holding the length in bytes. */
  readonly length: L;
  /** Required alignment of the area's physical address. */
  readonly align: number;
}

/** Types usable inline: as a struct field, an array element, or a pointee. */
export type InlineType =
  | ScalarType
  | BoolType
  | CharsType
  | BytesType
  | ArrayType<InlineType>
  | AnyStruct
  | PointerType<InlineType, boolean>;

/** Everything a struct field may be. Reserved fields and counted pointers exist only as struct fields. */
export type FieldType =
  | InlineType
  | ReservedType
  | ArrayPointerType<InlineType, string>
  | AreaPointerType<string>;

/**
 * The TypeScript type of a decoded value of descriptor `T`.
 *
 * @example
 * ```ts
 * const Extent = struct("extent", { phys: u64(), pages: u32() });
 * type Extent = Infer<typeof Extent>; // { phys: bigint; pages: number }
 * ```
 */
export type Infer<T> = T extends TypeBase<infer V> ? V : never;

/** Keys of `F` that are derived count/length fields of counted pointers. */
export type DerivedKeys<F> = {
  [K in keyof F]: F[K] extends ArrayPointerType<InlineType, infer C>
    ? C
    : F[K] extends AreaPointerType<infer L>
      ? L
      : never;
}[keyof F];

/** Keys of `F` absent from the decoded value: reserved fields and derived count/length fields. */
export type HiddenKeys<F> =
  | { [K in keyof F]: F[K] extends ReservedType ? K : never }[keyof F]
  | DerivedKeys<F>;

/** The decoded value type of a struct with fields `F` (reserved and derived fields omitted). */
export type InferFields<F> = {
  -readonly [K in keyof F as K extends HiddenKeys<F> ? never : K]: Infer<F[K]>;
} & {};
