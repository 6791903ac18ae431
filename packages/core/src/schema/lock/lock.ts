import type { AnyStruct } from "../declare/types.js";
import { SchemaError } from "../errors.js";
import { parseCompatibleString } from "../versions/compatible.js";
import type { VersionedSchema } from "../versions/versioned.js";

/** Identifies the lock file format. */
export const SCHEMA_LOCK_FORMAT = "liveupdate.schema.lock/1" as const;

/** Conventional file name of a package's lock file (committed next to its `package.json`). */
export const SCHEMA_LOCK_FILE = "schema-lock.json";

/**
 * A package's schema lock file: the layout hash of every released version, keyed by compatible
 * string (`"memfd-v1": "<hex sha256>"`). A released version's layout must never change; a changed
 * layout needs a new version.
 */
export interface SchemaLock {
  /** Always {@link SCHEMA_LOCK_FORMAT}. */
  readonly format: typeof SCHEMA_LOCK_FORMAT;
  /** Layout hash per released compatible string. */
  readonly versions: Readonly<Record<string, string>>;
}

/** What the lock reads of a versioned schema. */
export type LockableSchema = Pick<VersionedSchema<readonly AnyStruct[]>, "name" | "versions">;

/** Why a lock check fails. */
export type SchemaLockViolationKind =
  /** A released version's layout hash differs from the locked one: declare a new version instead. */
  | "hash-changed"
  /** A released version is no longer declared by its schema. */
  | "version-removed"
  /** The lock lists versions of a driver none of the given schemas declares. */
  | "schema-missing";

/** One violation found by {@link checkSchemaLock}. */
export interface SchemaLockViolation {
  /** What is wrong. */
  readonly kind: SchemaLockViolationKind;
  /** Driver (versioned schema) name. */
  readonly driver: string;
  /** Version number. */
  readonly version: number;
  /** Compatible string (`<driver>-v<version>`). */
  readonly compatible: string;
  /** The hash recorded at release. */
  readonly lockedHash: string;
  /** The hash of the current declaration (absent when the version is gone). */
  readonly currentHash?: string;
  /** Human-readable explanation with the fix. */
  readonly message: string;
}

/** The lock file is not valid JSON of the expected shape. */
export class SchemaLockInvalidError extends SchemaError {
  /** Always `"SCHEMA_LOCK_INVALID"`. */
  readonly code = "SCHEMA_LOCK_INVALID" as const;
}

/** A released version changed (or vanished); `context.violations` lists every {@link SchemaLockViolation}. */
export class SchemaLockViolationError extends SchemaError {
  /** Always `"SCHEMA_LOCK_VIOLATION"`. */
  readonly code = "SCHEMA_LOCK_VIOLATION" as const;
}

/** An empty lock (nothing released yet). */
export function emptySchemaLock(): SchemaLock {
  return { format: SCHEMA_LOCK_FORMAT, versions: {} };
}

/**
 * Parses a lock file (JSON text or an already parsed value).
 *
 * @throws SchemaLockInvalidError on malformed input.
 */
export function parseSchemaLock(input: string | unknown): SchemaLock {
  let value: unknown = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch (e) {
      throw new SchemaLockInvalidError(`schema lock: not JSON: ${(e as Error).message}`);
    }
  }
  if (
    typeof value !== "object" ||
    value === null ||
    (value as { format?: unknown }).format !== SCHEMA_LOCK_FORMAT
  ) {
    throw new SchemaLockInvalidError(`schema lock: not a ${SCHEMA_LOCK_FORMAT} file`);
  }
  const versions = (value as { versions?: unknown }).versions;
  if (typeof versions !== "object" || versions === null || Array.isArray(versions)) {
    throw new SchemaLockInvalidError("schema lock: versions must be an object");
  }
  const out: Record<string, string> = {};
  for (const [compatible, hash] of Object.entries(versions)) {
    if (
      parseCompatibleString(compatible) === undefined ||
      typeof hash !== "string" ||
      !/^[0-9a-f]{64}$/.test(hash)
    ) {
      throw new SchemaLockInvalidError(
        `schema lock: bad entry ${JSON.stringify(compatible)}: ${JSON.stringify(hash)}`,
        {
          compatible,
        },
      );
    }
    out[compatible] = hash;
  }
  return { format: SCHEMA_LOCK_FORMAT, versions: out };
}

function currentHashes(schemas: readonly LockableSchema[]): Map<string, Map<number, string>> {
  const byDriver = new Map<string, Map<number, string>>();
  for (const schema of schemas) {
    if (byDriver.has(schema.name)) {
      throw new SchemaLockInvalidError(`schema lock: two schemas named ${schema.name}`, {
        driver: schema.name,
      });
    }
    byDriver.set(schema.name, new Map(schema.versions.map((v) => [v.version, v.hash])));
  }
  return byDriver;
}

/**
 * Checks the package's schemas against its committed lock file: every released version must still
 * be declared with the same layout hash. Versions not in the lock are unreleased and fine. Pass
 * every versioned schema the package declares.
 *
 * @param schemas - the package's versioned schemas.
 * @param lockFileJson - the lock file's text (or parsed value).
 * @returns the violations, empty when the lock holds.
 * @throws SchemaLockInvalidError on a malformed lock file.
 * @example
 * ```ts
 * it("no released schema version changed", () => {
 *   expect(checkSchemaLock([Memfd], readFileSync("schema-lock.json", "utf8"))).toEqual([]);
 * });
 * ```
 */
export function checkSchemaLock(
  schemas: readonly LockableSchema[],
  lockFileJson: string | unknown,
): SchemaLockViolation[] {
  const lock = parseSchemaLock(lockFileJson);
  const current = currentHashes(schemas);
  const violations: SchemaLockViolation[] = [];
  for (const [compatible, lockedHash] of Object.entries(lock.versions)) {
    const { driver, version } = parseCompatibleString(compatible)!;
    const hashes = current.get(driver);
    if (hashes === undefined) {
      violations.push({
        kind: "schema-missing",
        driver,
        version,
        compatible,
        lockedHash,
        message: `released ${compatible} is locked but no schema named ${driver} was given (removed driver or stale lock entry)`,
      });
      continue;
    }
    const currentHash = hashes.get(version);
    if (currentHash === undefined) {
      violations.push({
        kind: "version-removed",
        driver,
        version,
        compatible,
        lockedHash,
        message: `released ${compatible} is no longer declared; released versions must stay (stop reading/writing them in the catalog instead)`,
      });
    } else if (currentHash !== lockedHash) {
      violations.push({
        kind: "hash-changed",
        driver,
        version,
        compatible,
        lockedHash,
        currentHash,
        message: `the layout of released ${compatible} changed (hash ${lockedHash.slice(0, 12)}… -> ${currentHash.slice(0, 12)}…); restore it and declare the change as ${driver}-v${Math.max(...hashes.keys()) + 1} with a migrator`,
      });
    }
  }
  return violations.sort((a, b) => (a.compatible < b.compatible ? -1 : a.compatible > b.compatible ? 1 : 0));
}

/**
 * Like {@link checkSchemaLock}, but throws when the lock does not hold.
 *
 * @throws SchemaLockViolationError listing every violation in its message and `context.violations`.
 */
export function assertSchemaLock(schemas: readonly LockableSchema[], lockFileJson: string | unknown): void {
  const violations = checkSchemaLock(schemas, lockFileJson);
  if (violations.length > 0) {
    throw new SchemaLockViolationError(
      `schema lock violated:\n${violations.map((v) => `  - ${v.message}`).join("\n")}`,
      { driver: violations[0]!.driver, version: violations[0]!.version, violations },
    );
  }
}

/**
 * Versions the schemas declare that the lock does not list yet (they become released on the next
 * {@link updateSchemaLock}), as compatible strings.
 */
export function unreleasedVersions(
  schemas: readonly LockableSchema[],
  lockFileJson: string | unknown,
): string[] {
  const lock = parseSchemaLock(lockFileJson);
  return schemas
    .flatMap((s) => s.versions.map((v) => v.compatible))
    .filter((c) => !Object.hasOwn(lock.versions, c));
}

/** Options of {@link updateSchemaLock}. */
export interface UpdateSchemaLockOptions {
  /**
   * Rewrite the lock to the current declarations even when released versions changed or vanished
   * (for a deliberate, reviewed break). Default `false`: violations throw.
   */
  readonly acceptViolations?: boolean;
}

/**
 * The release step: records the layout hash of every declared version, keeping what is locked.
 *
 * @param schemas - the package's versioned schemas.
 * @param lockFileJson - the current lock file (text or parsed), or `undefined` for a first release.
 * @returns the new lock; write it with {@link formatSchemaLock}.
 * @throws SchemaLockViolationError when a released version changed, unless `acceptViolations`.
 */
export function updateSchemaLock(
  schemas: readonly LockableSchema[],
  lockFileJson?: string | unknown,
  options: UpdateSchemaLockOptions = {},
): SchemaLock {
  const lock = lockFileJson === undefined ? emptySchemaLock() : parseSchemaLock(lockFileJson);
  if (options.acceptViolations !== true) assertSchemaLock(schemas, lock);
  const versions: Record<string, string> = options.acceptViolations === true ? {} : { ...lock.versions };
  for (const schema of schemas) for (const v of schema.versions) versions[v.compatible] = v.hash;
  return { format: SCHEMA_LOCK_FORMAT, versions };
}

/**
 * Serializes a lock file stably: entries sorted by driver, then version number; two-space JSON;
 * trailing newline.
 */
export function formatSchemaLock(lock: SchemaLock): string {
  const entries = Object.entries(lock.versions).sort(([a], [b]) => {
    const pa = parseCompatibleString(a)!;
    const pb = parseCompatibleString(b)!;
    return pa.driver < pb.driver ? -1 : pa.driver > pb.driver ? 1 : pa.version - pb.version;
  });
  return `${JSON.stringify({ format: lock.format, versions: Object.fromEntries(entries) }, null, 2)}\n`;
}
