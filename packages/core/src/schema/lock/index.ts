/**
 * Schema lock files: the layout hash of every released version, so a test fails when a released
 * version's layout changes without a new version ("forgot to bump").
 *
 * @module
 */
export {
  assertSchemaLock,
  checkSchemaLock,
  emptySchemaLock,
  formatSchemaLock,
  type LockableSchema,
  parseSchemaLock,
  SCHEMA_LOCK_FILE,
  SCHEMA_LOCK_FORMAT,
  type SchemaLock,
  SchemaLockInvalidError,
  type SchemaLockViolation,
  SchemaLockViolationError,
  type SchemaLockViolationKind,
  type UpdateSchemaLockOptions,
  unreleasedVersions,
  updateSchemaLock,
} from "./lock.js";
