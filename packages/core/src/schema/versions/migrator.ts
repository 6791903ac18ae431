/**
 * How much a neighbour migrator preserves:
 * - `iso`: lossless both ways — `down(up(x)) = x` and `up(down(y)) = y`;
 * - `injective`: `up` is lossless; `down` refuses (with a typed error naming the field) values the
 *   older version cannot express, and `up(down(y)) = y` whenever `down(y)` succeeds;
 * - `lossy`: `down` discards information; only `down(up(x)) = x` holds, and a downgrade through it
 *   needs a policy that allows lossy migration.
 */
export type MigratorKind = "iso" | "injective" | "lossy";

/** Every migrator kind, weakest guarantee last. */
export const MIGRATOR_KINDS: readonly MigratorKind[] = Object.freeze(["iso", "injective", "lossy"]);

/** What a migrator function receives besides the value. */
export interface MigrationContext {
  /** Driver (versioned schema) name. */
  readonly driver: string;
  /** Version of the input value. */
  readonly from: number;
  /** Version of the output value. */
  readonly to: number;
  /**
   * Refuses the migration because field `path` (e.g. `"seals"` or `"inodes[2].seals"`) holds a value
   * the target version cannot express. Throws {@link SchemaDowngradeRefusedError}; only meaningful
   * in `down`.
   */
  refuse(path: string, reason?: string): never;
}

/**
 * A driver author's migrator between version N (`A`) and N+1 (`B`). Functions must be pure and
 * must not mutate their input.
 *
 * @typeParam A - value type of the lower version.
 * @typeParam B - value type of the upper version.
 * @example
 * ```ts
 * const v1ToV2: MigratorSpec<InodeV1, InodeV2> = {
 *   kind: "injective",
 *   up: (v1) => ({ ...v1, seals: 0 }),
 *   down: ({ seals, ...v1 }, ctx) => (seals === 0 ? v1 : ctx.refuse("seals", "v1 has no seals")),
 * };
 * ```
 */
export interface MigratorSpec<A, B> {
  /** The guarantee this migrator claims (checked by {@link checkMigratorLaws}). */
  readonly kind: MigratorKind;
  /** Version N value → version N+1 value. Must be total and lossless. */
  up(value: A, ctx: MigrationContext): B;
  /** Version N+1 value → version N value; may call `ctx.refuse` (injective, lossy). */
  down(value: B, ctx: MigrationContext): A;
}

/**
 * A migrator as registered in a versioned schema, between versions `lower` and `lower + 1`.
 * `up`/`down` run the author's functions with a proper {@link MigrationContext}; foreign
 * exceptions become {@link SchemaMigrationFailedError}, refusals stay
 * {@link SchemaDowngradeRefusedError}. No validation happens here (see `migrate`).
 */
export interface NeighbourMigrator {
  /** Driver name. */
  readonly driver: string;
  /** The lower version N. */
  readonly lower: number;
  /** The upper version N+1. */
  readonly upper: number;
  /** Declared kind. */
  readonly kind: MigratorKind;
  /** Human name, e.g. `"guestmemfs v1↔v2"`. */
  readonly name: string;
  /** Runs `up` on a version-N value. */
  up(value: unknown): unknown;
  /** Runs `down` on a version-N+1 value. */
  down(value: unknown): unknown;
}
