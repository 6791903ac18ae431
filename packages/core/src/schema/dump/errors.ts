import { SchemaError } from "../errors.js";

/** A schema dump (JSON description) is malformed, or two dumps of different drivers were compared. */
export class SchemaDumpInvalidError extends SchemaError {
  /** Always `"SCHEMA_DUMP_INVALID"`. */
  readonly code = "SCHEMA_DUMP_INVALID" as const;
}
