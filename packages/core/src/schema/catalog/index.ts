/**
 * Catalogs (what versions each kernel build reads and writes), version negotiation between a
 * running and a target build, and compatibility matrices over many builds.
 *
 * @module
 */
export {
  type Catalog,
  type CatalogEntryOptions,
  catalogEntryFromSchema,
  type DriverCatalogEntry,
  type DriverCatalogEntryInput,
  defineCatalog,
  defineCatalogEntry,
  type KernelBuildCatalog,
  type MigratorLink,
  migrationPath,
  validateKernelBuildCatalog,
} from "./catalog.js";
export {
  CatalogInvalidError,
  NegotiationDriverMissingError,
  NegotiationError,
  type NegotiationErrorContext,
  type NegotiationFailureCode,
  NegotiationLossyRefusedError,
  NegotiationNoCommonVersionError,
} from "./errors.js";
export {
  type CompatibilityMatrix,
  type CompatibilityMatrixOptions,
  compatibilityMatrix,
  formatCell,
  formatCompatibilityMatrix,
  type MatrixCell,
  type MatrixPair,
  matrixCell,
  type UpdateDirection,
} from "./matrix.js";
export {
  type DriverNegotiation,
  type DriverNegotiationAbsent,
  type DriverNegotiationFailed,
  type DriverNegotiationOk,
  type NegotiationOptions,
  type NegotiationPlan,
  type NegotiationPolicy,
  type NegotiationResult,
  negotiate,
  negotiateDriver,
  negotiationError,
  planNegotiation,
  type RefusedLossyVersion,
} from "./negotiate.js";
