import type { AnyStruct } from "../declare/types.js";
import type { MigratorKind } from "../versions/migrator.js";
import type { MigrationStep } from "../versions/plan.js";
import type { VersionedSchema } from "../versions/versioned.js";
import { CatalogInvalidError } from "./errors.js";

/** The migrator pair between version `from` and version `from + 1` of one driver. */
export interface MigratorLink {
  /** The older version of the pair. */
  readonly from: number;
  /** The newer version of the pair; always `from + 1`. */
  readonly to: number;
  /** The declared kind of the pair (see {@link MigratorKind}). */
  readonly kind: MigratorKind;
}

/**
 * What one kernel build knows of one driver: the versions of its preserved state it can write
 * (hand over to a next kernel) and read (adopt from a previous kernel), its native version (the one
 * its live objects use), and the kinds of the migrators it carries between neighbouring versions.
 *
 * Every written or read version must be reachable from native through the listed migrators.
 */
export interface DriverCatalogEntry {
  /** The driver, i.e. the versioned-schema name; compatible strings are `<driver>-v<N>`. */
  readonly driver: string;
  /** The version the build's live driver state uses. It is always writable and readable. */
  readonly native: number;
  /** Versions this build can serialize, ascending (native migrated up or down as needed). */
  readonly writes: readonly number[];
  /** Versions this build can restore from, ascending (migrated to native after decoding). */
  readonly reads: readonly number[];
  /** The migrator pairs the build carries, one per neighbouring version pair it needs. */
  readonly migrators: readonly MigratorLink[];
}

/** A kernel build's catalog: its {@link DriverCatalogEntry} per driver name. */
export type Catalog = Readonly<Record<string, DriverCatalogEntry>>;

/**
 * A kernel build as negotiation sees it: its version string and its catalog, data only, so it can
 * be stored, diffed and sent. A richer kernel build object that has these two properties (the
 * kernel layer's build with a `catalog`) can be passed wherever this is expected.
 */
export interface KernelBuildCatalog {
  /** Human-readable build identifier, e.g. `"6.16.0-lu2"`; unique within a compatibility matrix. */
  readonly version: string;
  /** What the build can read and write, per driver. */
  readonly catalog: Catalog;
}

/** Input of {@link defineCatalogEntry}; `writes`/`reads` may be unsorted and `migrators` given as a map. */
export interface DriverCatalogEntryInput {
  /** See {@link DriverCatalogEntry.driver}. */
  readonly driver: string;
  /** See {@link DriverCatalogEntry.native}. */
  readonly native: number;
  /** See {@link DriverCatalogEntry.writes}. */
  readonly writes: readonly number[];
  /** See {@link DriverCatalogEntry.reads}. */
  readonly reads: readonly number[];
  /**
   * The migrator pairs: either {@link MigratorLink}s, or a map from the older version of each pair to
   * its kind (`{ 1: "iso", 2: "injective" }` means v1↔v2 is iso and v2↔v3 injective).
   */
  readonly migrators?: readonly MigratorLink[] | Readonly<Record<number, MigratorKind>>;
}

const KINDS: ReadonlySet<string> = new Set(["iso", "injective", "lossy"]);

function normalizeVersions(driver: string, what: string, versions: readonly number[]): number[] {
  for (const v of versions) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new CatalogInvalidError(
        `catalog entry ${driver}: ${what} version ${String(v)} is not a positive integer`,
        {
          driver,
          [what]: versions,
        },
      );
    }
  }
  return [...new Set(versions)].sort((a, b) => a - b);
}

/**
 * Validates and normalizes one driver's catalog entry.
 *
 * @throws CatalogInvalidError when a version is not a positive integer, native is not both written
 *   and read, a migrator link is malformed or duplicated, or a written/read version is not reachable
 *   from native through the declared migrators.
 */
export function defineCatalogEntry(input: DriverCatalogEntryInput): DriverCatalogEntry {
  const { driver, native } = input;
  if (typeof driver !== "string" || driver.length === 0) {
    throw new CatalogInvalidError("catalog entry without a driver name", { driver });
  }
  const writes = normalizeVersions(driver, "writes", input.writes);
  const reads = normalizeVersions(driver, "reads", input.reads);
  if (!writes.includes(native) || !reads.includes(native)) {
    throw new CatalogInvalidError(
      `catalog entry ${driver}: native version ${native} must be both writable and readable`,
      { driver, native, writes, reads },
    );
  }
  const raw = input.migrators ?? [];
  const links: MigratorLink[] = Array.isArray(raw)
    ? (raw as readonly MigratorLink[]).map((l) => ({ from: l.from, to: l.to, kind: l.kind }))
    : Object.entries(raw as Readonly<Record<number, MigratorKind>>).map(([from, kind]) => ({
        from: Number(from),
        to: Number(from) + 1,
        kind,
      }));
  const byFrom = new Map<number, MigratorLink>();
  for (const link of links) {
    if (
      !Number.isSafeInteger(link.from) ||
      link.from < 1 ||
      link.to !== link.from + 1 ||
      !KINDS.has(link.kind)
    ) {
      throw new CatalogInvalidError(
        `catalog entry ${driver}: malformed migrator link ${JSON.stringify(link)} (want { from: N, to: N + 1, kind: iso|injective|lossy })`,
        { driver, link },
      );
    }
    if (byFrom.has(link.from)) {
      throw new CatalogInvalidError(
        `catalog entry ${driver}: two migrators between v${link.from} and v${link.to}`,
        {
          driver,
          from: link.from,
        },
      );
    }
    byFrom.set(link.from, link);
  }
  for (const v of new Set([...writes, ...reads])) {
    for (let step = Math.min(v, native); step < Math.max(v, native); step++) {
      if (!byFrom.has(step)) {
        throw new CatalogInvalidError(
          `catalog entry ${driver}: v${v} is listed but unreachable from native v${native}: no migrator between v${step} and v${step + 1}`,
          { driver, native, version: v, missingLink: { from: step, to: step + 1 } },
        );
      }
    }
  }
  const migrators = [...byFrom.values()].sort((a, b) => a.from - b.from);
  return { driver, native, writes, reads, migrators };
}

/**
 * Builds a {@link Catalog} from entries (validated with {@link defineCatalogEntry}).
 *
 * @throws CatalogInvalidError on an invalid entry or two entries for one driver.
 */
export function defineCatalog(entries: readonly DriverCatalogEntryInput[]): Catalog {
  const catalog: Record<string, DriverCatalogEntry> = {};
  for (const input of entries) {
    const entry = defineCatalogEntry(input);
    if (Object.hasOwn(catalog, entry.driver)) {
      throw new CatalogInvalidError(`catalog lists driver ${entry.driver} twice`, { driver: entry.driver });
    }
    catalog[entry.driver] = entry;
  }
  return Object.freeze(catalog);
}

/**
 * Validates a whole kernel build (as received, e.g. parsed from JSON): every entry is re-validated
 * and must be stored under its own driver name.
 *
 * @throws CatalogInvalidError on the first problem found.
 */
export function validateKernelBuildCatalog(build: KernelBuildCatalog): KernelBuildCatalog {
  if (typeof build.version !== "string" || build.version.length === 0) {
    throw new CatalogInvalidError("kernel build without a version string", { build: String(build.version) });
  }
  const catalog: Record<string, DriverCatalogEntry> = {};
  for (const [name, entry] of Object.entries(build.catalog)) {
    if (entry.driver !== name) {
      throw new CatalogInvalidError(
        `kernel build ${build.version}: entry ${name} names driver ${entry.driver}`,
        {
          build: build.version,
          driver: name,
        },
      );
    }
    catalog[name] = defineCatalogEntry(entry);
  }
  return { version: build.version, catalog: Object.freeze(catalog) };
}

/** Options of {@link catalogEntryFromSchema}. */
export interface CatalogEntryOptions {
  /** The build's native version; default: the schema's latest version. */
  readonly native?: number;
  /** Versions the build writes; default: every version of the schema. */
  readonly writes?: readonly number[];
  /** Versions the build reads; default: every version of the schema. */
  readonly reads?: readonly number[];
}

/**
 * The catalog entry of a build that carries `schema` (all its versions and migrators): by default
 * it writes and reads every declared version and is native at the latest one. Restrict `writes` /
 * `reads` for builds that dropped old versions.
 *
 * @example
 * ```ts
 * const build: KernelBuildCatalog = {
 *   version: "6.16.0-lu2",
 *   catalog: defineCatalog([catalogEntryFromSchema(Memfd, { native: 2, reads: [2, 3] })]),
 * };
 * ```
 * @throws CatalogInvalidError when a listed version is not declared in the schema.
 */
export function catalogEntryFromSchema(
  schema: Pick<VersionedSchema<readonly AnyStruct[]>, "name" | "latest" | "migrators">,
  options: CatalogEntryOptions = {},
): DriverCatalogEntry {
  const all = Array.from({ length: schema.latest }, (_, i) => i + 1);
  const writes = options.writes ?? all;
  const reads = options.reads ?? all;
  const native = options.native ?? schema.latest;
  for (const v of [...writes, ...reads, native]) {
    if (!all.includes(v)) {
      throw new CatalogInvalidError(
        `catalog entry ${schema.name}: v${v} is not declared (known: v1..v${schema.latest})`,
        {
          driver: schema.name,
          version: v,
        },
      );
    }
  }
  return defineCatalogEntry({
    driver: schema.name,
    native,
    writes,
    reads,
    migrators: schema.migrators.map((m) => ({ from: m.lower, to: m.upper, kind: m.kind })),
  });
}

/**
 * The chain of migrator applications that brings a value of one driver from version `from` to
 * version `to`, with the kinds the given catalog entry declares (empty when `from === to`). Same
 * shape as {@link VersionedSchema.plan}'s steps.
 *
 * @throws CatalogInvalidError when a needed migrator pair is not in the entry.
 */
export function migrationPath(entry: DriverCatalogEntry, from: number, to: number): MigrationStep[] {
  const steps: MigrationStep[] = [];
  const direction = to > from ? "up" : "down";
  for (let v = from; v !== to; v += direction === "up" ? 1 : -1) {
    const lower = direction === "up" ? v : v - 1;
    const link = entry.migrators.find((l) => l.from === lower);
    if (link === undefined) {
      throw new CatalogInvalidError(
        `driver ${entry.driver}: no migrator between v${lower} and v${lower + 1}`,
        {
          driver: entry.driver,
          from,
          to,
          missingLink: { from: lower, to: lower + 1 },
        },
      );
    }
    steps.push({ from: v, to: direction === "up" ? v + 1 : v - 1, direction, kind: link.kind });
  }
  return steps;
}
