/**
 * Versioned binary struct schemas — the state a driver hands over: declarations (`struct`,
 * scalars, arrays, pointers), derived layouts and hashes, compiled codecs, io-ts validation,
 * versions with migrators (iso / injective / lossy), law checks and arbitraries, catalogs and
 * negotiation between kernel builds, schema locks, and dumps a kernel developer reads (JSON, C
 * headers). The concept guide "Versioned schemas" explains the model.
 *
 * @module schema
 */

export { RangeSet } from "../common/range-set.js";
export * from "./catalog/index.js";
export { DEFAULT_DECODE_BUDGET, type DecodeBudget } from "./codec/budget.js";
export { type Codec, codecFor } from "./codec/codec.js";
export type { CodecLabel } from "./codec/runtime.js";
export { MAX_TYPE_SIZE } from "./declare/checks.js";
export { array, bytes, type CharsOptions, chars, reserved } from "./declare/compound.js";
export {
  FOLIO_PAGE_SIZE,
  type FolioOptions,
  folio,
  folioSize,
  MAX_FOLIO_ORDER,
} from "./declare/folio.js";
export { nextSatisfying, satisfiesInvariants } from "./declare/invariants.js";
export { areaPointer, arrayPointer, pointer } from "./declare/pointers.js";
export { SCALAR_INFO, type ScalarInfo } from "./declare/scalar-info.js";
export { bool, i8, i16, i32, i64, isBigScalar, isSmallScalar, u8, u16, u32, u64 } from "./declare/scalars.js";
export {
  alignOf,
  type FieldPlacement,
  POINTER_SIZE,
  placeStruct,
  type StructPlacement,
  sizeOf,
} from "./declare/size.js";
export { struct } from "./declare/struct.js";
export type {
  AnyStruct,
  AreaPointerType,
  ArrayPointerType,
  ArrayType,
  BigScalarName,
  BoolType,
  BytesType,
  CharsType,
  DerivedKeys,
  EnumMember,
  Fields,
  FieldType,
  FolioSpec,
  FolioType,
  HiddenKeys,
  Infer,
  InferFields,
  InlineType,
  IntInvariantOptions,
  IntInvariants,
  PointerType,
  ReservedType,
  ScalarName,
  ScalarType,
  SmallScalarName,
  StructOf,
  StructOptions,
  StructType,
  TypeBase,
} from "./declare/types.js";
export * from "./dump/index.js";
export {
  SchemaBadStringError,
  SchemaBudgetExceededError,
  SchemaCountOverflowError,
  SchemaDeclarationError,
  SchemaDowngradeRefusedError,
  SchemaError,
  type SchemaErrorContext,
  SchemaInvalidValueError,
  SchemaInvariantError,
  SchemaLawViolationError,
  SchemaLossyRefusedError,
  SchemaMemoryError,
  SchemaMemoryRequiredError,
  SchemaMigrationFailedError,
  SchemaNullPointerError,
  SchemaPointerCycleError,
  SchemaPointerMisalignedError,
  SchemaPointerNotPreservedError,
  SchemaPointerRangeError,
  SchemaPointerSharedError,
  SchemaReservedNonZeroError,
  SchemaShortBufferError,
  SchemaTrailingBytesError,
  SchemaUnknownVersionError,
  type ValidationIssue,
} from "./errors.js";
export { type ArbitraryOptions, arbitraryFor } from "./laws/arbitrary.js";
export { generatorFor, type StructGenerator, type ValueGenerator } from "./laws/generators.js";
export {
  checkMigrator,
  checkMigratorLaws,
  MIGRATOR_LAWS,
  type MigratorLawOptions,
  type MigratorLaws,
} from "./laws/migrator-laws.js";
export { DEFAULT_MIN_EXERCISED, type PropertyOptions } from "./laws/property.js";
export { assertLaws, type LawCheck, type LawFailure, type LawReport, mergeReports } from "./laws/report.js";
export { checkRoundTrip, checkSchemaLaws, ROUND_TRIP_LAW, type RoundTripOptions } from "./laws/round-trip.js";
export { canonicalJson } from "./layout/canonical.js";
export { layoutOf } from "./layout/describe.js";
export { layoutHash } from "./layout/hash.js";
export {
  type AreaPointerLayout,
  type ArrayLayout,
  type ArrayPointerLayout,
  type BlobLayout,
  type BoolLayout,
  type CharsLayout,
  type DerivedLayout,
  type EnumMemberLayout,
  type FieldLayout,
  type FolioLayout,
  type InvariantsLayout,
  LAYOUT_FORMAT,
  type PointerLayout,
  type ScalarLayout,
  type SchemaLayout,
  type StructLayout,
  type StructRefLayout,
  type TypeLayout,
} from "./layout/types.js";
export * from "./lock/index.js";
export { InMemorySchemaMemory, type InMemorySchemaMemoryOptions } from "./memory/in-memory.js";
export type { SchemaMemory } from "./memory/memory.js";
export { type IoType, ioTypeOf } from "./validate/io-types.js";
export { formatIssues, validate } from "./validate/validate.js";
export { valuesEqual } from "./values/equal.js";
export { type FolioRef, folioFieldsOf } from "./values/folios.js";
export { showValue } from "./values/show.js";
export {
  assertDriverName,
  compatibleString,
  type ParsedCompatible,
  parseCompatibleString,
} from "./versions/compatible.js";
export {
  MIGRATOR_KINDS,
  type MigrationContext,
  type MigratorKind,
  type MigratorSpec,
  type NeighbourMigrator,
} from "./versions/migrator.js";
export type { MigrationPlan, MigrationPolicy, MigrationStep } from "./versions/plan.js";
export type { SchemaVersion } from "./versions/schema-version.js";
export {
  type LastOf,
  type MigrationResult,
  type StructAt,
  type ValueAt,
  type VersionedSchema,
  versionedSchema,
} from "./versions/versioned.js";
