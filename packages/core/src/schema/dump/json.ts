import type { AnyStruct } from "../declare/types.js";
import { LAYOUT_FORMAT, type SchemaLayout } from "../layout/types.js";
import type { MigratorKind } from "../versions/migrator.js";
import type { VersionedSchema } from "../versions/versioned.js";
import { SchemaDumpInvalidError } from "./errors.js";

/** Identifies the schema dump format; bumped if the JSON shape ever changes. */
export const SCHEMA_DUMP_FORMAT = "liveupdate.schema.dump/1" as const;

/** One version in a {@link SchemaDump}. */
export interface SchemaVersionDump {
  /** Version number. */
  readonly version: number;
  /** Compatible string, `<driver>-v<version>`. */
  readonly compatible: string;
  /** Fixed size in bytes of the version's root struct. */
  readonly size: number;
  /** Layout hash (hex SHA-256 of the canonical layout), as recorded in lock files. */
  readonly hash: string;
  /** The canonical layout description: root struct and every struct reachable from it. */
  readonly layout: SchemaLayout;
}

/** One migrator pair in a {@link SchemaDump}. */
export interface MigratorDump {
  /** Lower version. */
  readonly from: number;
  /** Upper version (`from + 1`). */
  readonly to: number;
  /** Declared kind. */
  readonly kind: MigratorKind;
}

/**
 * Stable, diffable JSON description of every version of one driver's versioned schema — the
 * counterpart of QEMU's `-dump-vmstate`. Commit one per release; {@link compareSchemaDumps} compares
 * two of them, {@link cHeader} turns one into a C header.
 */
export interface SchemaDump {
  /** Always {@link SCHEMA_DUMP_FORMAT}. */
  readonly format: typeof SCHEMA_DUMP_FORMAT;
  /** Driver (versioned schema) name. */
  readonly driver: string;
  /** Every version, v1 first. */
  readonly versions: readonly SchemaVersionDump[];
  /** Neighbour migrator pairs with their kinds, lowest first. */
  readonly migrators: readonly MigratorDump[];
}

/** What {@link describeSchema} reads of a versioned schema. */
export type DumpableSchema = Pick<VersionedSchema<readonly AnyStruct[]>, "name" | "versions" | "migrators">;

/**
 * Describes every version of a versioned schema as a {@link SchemaDump}.
 *
 * @example
 * ```ts
 * writeFileSync("memfd.schema.json", formatSchemaDump(describeSchema(Memfd)));
 * ```
 */
export function describeSchema(schema: DumpableSchema): SchemaDump {
  return {
    format: SCHEMA_DUMP_FORMAT,
    driver: schema.name,
    versions: schema.versions.map((v) => ({
      version: v.version,
      compatible: v.compatible,
      size: v.layout.size,
      hash: v.hash,
      layout: v.layout,
    })),
    migrators: schema.migrators.map((m) => ({ from: m.lower, to: m.upper, kind: m.kind })),
  };
}

const KEY_ORDER = [
  "format",
  "driver",
  "version",
  "compatible",
  "root",
  "from",
  "to",
  "kind",
  "name",
  "scalar",
  "offset",
  "size",
  "length",
  "count",
  "align",
  "packed",
  "order",
  "nullable",
  "nulTerminated",
  "role",
  "of",
  "hash",
  "type",
  "element",
  "elementSize",
  "elementAlign",
  "target",
  "targetSize",
  "targetAlign",
  "folio",
  "invariants",
  "min",
  "max",
  "enum",
  "mask",
  "mustBeZero",
  "value",
  "derived",
  "layout",
  "structs",
  "fields",
  "versions",
  "migrators",
];

function orderedKeys(obj: object): string[] {
  const rank = (k: string) => {
    const i = KEY_ORDER.indexOf(k);
    return i < 0 ? KEY_ORDER.length : i;
  };
  return Object.keys(obj)
    .filter((k) => (obj as Record<string, unknown>)[k] !== undefined)
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

function compact(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(compact).join(", ")}]`;
  if (typeof value === "object" && value !== null) {
    const keys = orderedKeys(value);
    return `{ ${keys.map((k) => `${JSON.stringify(k)}: ${compact((value as Record<string, unknown>)[k])}`).join(", ")} }`;
  }
  return JSON.stringify(value);
}

function pretty(value: unknown, indent: string, key: string | undefined): string {
  // One line per struct field and per migrator pair: a changed field is a one-line diff.
  if (key === "fields" || key === "migrators") {
    const items = value as unknown[];
    if (items.length === 0) return "[]";
    return `[\n${items.map((item) => `${indent}  ${compact(item)}`).join(",\n")}\n${indent}]`;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((item) => `${indent}  ${pretty(item, `${indent}  `, undefined)}`).join(",\n")}\n${indent}]`;
  }
  if (typeof value === "object" && value !== null) {
    const keys = orderedKeys(value);
    const body = keys.map(
      (k) =>
        `${indent}  ${JSON.stringify(k)}: ${pretty((value as Record<string, unknown>)[k], `${indent}  `, k)}`,
    );
    return `{\n${body.join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/**
 * Serializes a dump as stable, diffable JSON: fixed key order, two-space indentation, one line per
 * struct field and per migrator, trailing newline. Equal dumps always give identical text, so a
 * committed dump changes exactly where the layout changed.
 */
export function formatSchemaDump(dump: SchemaDump): string {
  return `${pretty(dump, "", undefined)}\n`;
}

function fail(message: string, context: Record<string, unknown> = {}): never {
  throw new SchemaDumpInvalidError(`schema dump: ${message}`, context);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Parses and checks the outer shape of a dump (JSON text or an already parsed value): format tag,
 * driver, versions `1..N` in order each with a layout whose root struct is described, and migrator
 * pairs between neighbours.
 *
 * @throws SchemaDumpInvalidError on malformed input.
 */
export function parseSchemaDump(input: string | unknown): SchemaDump {
  let value: unknown = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch (e) {
      fail(`not JSON: ${(e as Error).message}`);
    }
  }
  if (!isObject(value)) fail("not an object");
  if (value["format"] !== SCHEMA_DUMP_FORMAT) {
    fail(`unknown format ${JSON.stringify(value["format"])} (want ${SCHEMA_DUMP_FORMAT})`);
  }
  const driver = value["driver"];
  if (typeof driver !== "string" || driver === "") fail("missing driver name");
  const versions = value["versions"];
  if (!Array.isArray(versions)) fail("versions must be an array", { driver });
  versions.forEach((v: unknown, i: number) => {
    if (!isObject(v) || v["version"] !== i + 1)
      fail(`versions[${i}] must describe version ${i + 1}`, { driver });
    const layout = v["layout"];
    if (
      !isObject(layout) ||
      layout["format"] !== LAYOUT_FORMAT ||
      typeof layout["root"] !== "string" ||
      !Array.isArray(layout["structs"]) ||
      !(layout["structs"] as unknown[]).some(
        (s) => isObject(s) && s["name"] === layout["root"] && Array.isArray(s["fields"]),
      )
    ) {
      fail(`versions[${i}].layout is not a ${LAYOUT_FORMAT} description`, { driver, version: i + 1 });
    }
    if (typeof v["hash"] !== "string") fail(`versions[${i}].hash missing`, { driver, version: i + 1 });
  });
  const migrators = value["migrators"];
  if (!Array.isArray(migrators)) fail("migrators must be an array", { driver });
  migrators.forEach((m: unknown, i: number) => {
    if (
      !isObject(m) ||
      m["from"] !== i + 1 ||
      m["to"] !== i + 2 ||
      !(m["kind"] === "iso" || m["kind"] === "injective" || m["kind"] === "lossy")
    ) {
      fail(`migrators[${i}] must connect v${i + 1} and v${i + 2} with a kind`, { driver });
    }
  });
  return value as unknown as SchemaDump;
}
