/**
 * Dumps of versioned schemas: a stable JSON description (like QEMU's `-dump-vmstate`), C headers,
 * and a static checker comparing two releases (like QEMU's vmstate-static-checker).
 *
 * @module
 */
export {
  type CHeaderOptions,
  type CStructInfo,
  type CStructPlan,
  cHeader,
  macroPrefix,
  planCStructs,
} from "./cheader.js";
export {
  type CompatibilityImpact,
  compareSchemaDumps,
  formatDumpComparison,
  invariantsSubset,
  type LayoutChange,
  type LayoutChangeKind,
  type MigratorChange,
  type SchemaDumpComparison,
  type VersionComparison,
} from "./check.js";
export { SchemaDumpInvalidError } from "./errors.js";
export {
  type DumpableSchema,
  describeSchema,
  formatSchemaDump,
  type MigratorDump,
  parseSchemaDump,
  SCHEMA_DUMP_FORMAT,
  type SchemaDump,
  type SchemaVersionDump,
} from "./json.js";
