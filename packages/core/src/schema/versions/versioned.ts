import type { AnyStruct, Infer } from "../declare/types.js";
import {
  SchemaDeclarationError,
  SchemaInvalidValueError,
  SchemaLossyRefusedError,
  SchemaMigrationFailedError,
  SchemaUnknownVersionError,
} from "../errors.js";
import { assertDriverName, compatibleString, parseCompatibleString } from "./compatible.js";
import type { MigratorSpec, NeighbourMigrator } from "./migrator.js";
import { neighbourMigrator } from "./neighbour.js";
import { type MigrationPlan, type MigrationPolicy, type MigrationStep, planPath } from "./plan.js";
import { type SchemaVersion, schemaVersion } from "./schema-version.js";

/** The struct of version `N` in the version tuple `Vs` (version 1 is `Vs[0]`). */
export type StructAt<Vs extends readonly AnyStruct[], N extends number> = [never, ...Vs][N];

/** The decoded value type of version `N`. */
export type ValueAt<Vs extends readonly AnyStruct[], N extends number> = Infer<StructAt<Vs, N>>;

/** The last element of a tuple. */
export type LastOf<Vs extends readonly unknown[]> = Vs extends readonly [...unknown[], infer L] ? L : never;

/** Result of {@link VersionedSchema.migrate}. */
export interface MigrationResult<V> {
  /** The migrated value. */
  readonly value: V;
  /** The hops taken, with their kinds. */
  readonly steps: readonly MigrationStep[];
}

/**
 * All versions of one driver's preserved state, v1..vN, with the neighbour migrators between
 * them. Immutable: {@link VersionedSchema.next} returns a new schema with one more version.
 *
 * Catalogs and negotiation read {@link VersionedSchema.versions}, {@link VersionedSchema.compatible},
 * {@link VersionedSchema.migrators} (each with its `kind`) and {@link VersionedSchema.plan}.
 *
 * @typeParam Vs - tuple of the version structs, v1 first.
 */
export interface VersionedSchema<Vs extends readonly AnyStruct[] = readonly AnyStruct[]> {
  /** Driver name (the `<name>` of compatible strings). */
  readonly name: string;
  /** Every version, v1 first (`versions[n - 1].version === n`). */
  readonly versions: { readonly [K in keyof Vs]: SchemaVersion<Vs[K]> };
  /** The newest version number (= number of versions). */
  readonly latest: number;
  /** Neighbour migrators: `migrators[i]` connects versions `i + 1` and `i + 2`. */
  readonly migrators: readonly NeighbourMigrator[];
  /** Whether version `n` exists. */
  has(n: number): boolean;
  /** Version `n`; throws {@link SchemaUnknownVersionError} if there is none. */
  version<N extends number>(n: N): SchemaVersion<StructAt<Vs, N>>;
  /** Compatible string of version `n` (`<name>-v<n>`); throws for unknown versions. */
  compatible(n: number): string;
  /**
   * Version number named by a compatible string; throws {@link SchemaUnknownVersionError} for
   * malformed strings, other drivers and unknown versions.
   */
  parseCompatible(compatible: string): number;
  /** The migrator between `lower` and `lower + 1`; throws for unknown versions. */
  migrator(lower: number): NeighbourMigrator;
  /** The path from `from` to `to` and the kinds on it, without running anything. */
  plan(from: number, to: number): MigrationPlan;
  /**
   * Migrates `value` from version `from` to version `to` through the neighbour migrators. Refuses
   * lossy downgrades unless `policy.allowLossy` (before running anything), propagates
   * `SCHEMA_DOWNGRADE_REFUSED` from injective/lossy down-migrators, and (by default) validates the
   * input and every hop's output.
   */
  migrate<F extends number, T extends number>(
    value: ValueAt<Vs, F>,
    from: F,
    to: T,
    policy?: MigrationPolicy,
  ): MigrationResult<ValueAt<Vs, T>>;
  /** A new schema with version `latest + 1` declared by `struct`, reached through `migrator`. */
  next<S extends AnyStruct>(
    struct: S,
    migrator: MigratorSpec<Infer<LastOf<Vs>>, Infer<S>>,
  ): VersionedSchema<readonly [...Vs, S]>;
}

function build<Vs extends readonly AnyStruct[]>(
  name: string,
  structs: readonly AnyStruct[],
  migrators: readonly NeighbourMigrator[],
): VersionedSchema<Vs> {
  const versions = Object.freeze(structs.map((s, i) => schemaVersion(name, i + 1, s)));
  const latest = versions.length;
  const known = () => versions.map((v) => v.version);
  const check = (n: number, what = "version"): void => {
    if (!Number.isInteger(n) || n < 1 || n > latest) {
      throw new SchemaUnknownVersionError(`${name} has no ${what} ${String(n)} (known: v1..v${latest})`, {
        driver: name,
        version: typeof n === "number" ? n : undefined,
        known: known(),
      });
    }
  };
  const schema: VersionedSchema<Vs> = {
    name,
    versions: versions as unknown as VersionedSchema<Vs>["versions"],
    latest,
    migrators,
    has: (n) => Number.isInteger(n) && n >= 1 && n <= latest,
    version<N extends number>(n: N) {
      check(n);
      return versions[n - 1] as unknown as SchemaVersion<StructAt<Vs, N>>;
    },
    compatible(n) {
      check(n);
      return compatibleString(name, n);
    },
    parseCompatible(compatible) {
      const parsed = parseCompatibleString(compatible);
      if (parsed === undefined || parsed.driver !== name || parsed.version > latest) {
        throw new SchemaUnknownVersionError(
          `${JSON.stringify(compatible)} is not a compatible string of ${name} (known: ${known()
            .map((v) => compatibleString(name, v))
            .join(", ")})`,
          { driver: name, compatible, known: known() },
        );
      }
      return parsed.version;
    },
    migrator(lower) {
      check(lower);
      check(lower + 1);
      return migrators[lower - 1]!;
    },
    plan(from, to) {
      check(from);
      check(to);
      return planPath(name, migrators, from, to);
    },
    migrate<F extends number, T extends number>(
      value: ValueAt<Vs, F>,
      from: F,
      to: T,
      policy: MigrationPolicy = {},
    ) {
      const plan = schema.plan(from, to);
      if (plan.lossy && policy.allowLossy !== true) {
        throw new SchemaLossyRefusedError(
          `migrating ${name} v${from}→v${to} needs a lossy downgrade and the policy does not allow it`,
          { driver: name, version: to, from, to, kinds: plan.kinds },
        );
      }
      const validating = policy.validate !== false;
      let current: unknown = validating ? versions[from - 1]!.validate(value) : value;
      for (const step of plan.steps) {
        const m = migrators[Math.min(step.from, step.to) - 1]!;
        current = step.direction === "up" ? m.up(current) : m.down(current);
        if (validating) {
          try {
            current = versions[step.to - 1]!.validate(current);
          } catch (e) {
            if (!(e instanceof SchemaInvalidValueError)) throw e;
            throw new SchemaMigrationFailedError(
              `${step.direction}-migrator v${step.from}→v${step.to} produced an invalid value: ${e.issues[0]?.message ?? ""}`,
              {
                driver: name,
                version: step.to,
                from: step.from,
                to: step.to,
                path: e.context.path,
                issues: e.issues,
              },
              { cause: e },
            );
          }
        }
      }
      return Object.freeze({ value: current as ValueAt<Vs, T>, steps: plan.steps });
    },
    next<S extends AnyStruct>(struct: S, migrator: MigratorSpec<Infer<LastOf<Vs>>, Infer<S>>) {
      assertStruct(name, struct, latest + 1);
      return build<readonly [...Vs, S]>(
        name,
        [...structs, struct],
        Object.freeze([
          ...migrators,
          neighbourMigrator(name, latest, migrator as MigratorSpec<unknown, unknown>),
        ]),
      );
    },
  };
  return Object.freeze(schema);
}

function assertStruct(driver: string, struct: unknown, version: number): void {
  if (typeof struct !== "object" || struct === null || (struct as { kind?: unknown }).kind !== "struct") {
    throw new SchemaDeclarationError(`version ${version} of ${driver} must be a struct declaration`, {
      driver,
      version,
    });
  }
}

/**
 * Starts the versioned schema of a driver with its version 1; add versions with
 * {@link VersionedSchema.next}.
 *
 * @param name - driver name (compatible strings are `<name>-v<N>`).
 * @param v1 - the struct of version 1.
 * @example
 * ```ts
 * const Guestmemfs = versionedSchema("guestmemfs", FsV1)
 *   .next(FsV2, {
 *     kind: "injective",
 *     up: (v1) => ({ ...v1, seals: 0 }),
 *     down: ({ seals, ...v1 }, ctx) => (seals === 0 ? v1 : ctx.refuse("seals")),
 *   })
 *   .next(FsV3, { kind: "iso", up: fromV2, down: toV2 });
 *
 * Guestmemfs.compatible(2);                        // "guestmemfs-v2"
 * Guestmemfs.plan(3, 1).kinds;                     // ["iso", "injective"]
 * const { value } = Guestmemfs.migrate(v3, 3, 1);  // throws SCHEMA_DOWNGRADE_REFUSED if seals set
 * ```
 */
export function versionedSchema<S extends AnyStruct>(name: string, v1: S): VersionedSchema<readonly [S]> {
  assertDriverName(name);
  assertStruct(name, v1, 1);
  return build<readonly [S]>(name, [v1], Object.freeze([]));
}
