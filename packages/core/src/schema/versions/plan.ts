import type { MigratorKind, NeighbourMigrator } from "./migrator.js";

/** One hop of a migration path. */
export interface MigrationStep {
  /** Version of the input. */
  readonly from: number;
  /** Version of the output (`from ± 1`). */
  readonly to: number;
  /** `up` (to a newer version) or `down` (to an older one). */
  readonly direction: "up" | "down";
  /** Declared kind of the migrator used. */
  readonly kind: MigratorKind;
}

/**
 * The path between two versions of one driver, computed without running anything (negotiation
 * uses it to refuse before anything is frozen).
 */
export interface MigrationPlan {
  /** Driver name. */
  readonly driver: string;
  /** Source version. */
  readonly from: number;
  /** Target version. */
  readonly to: number;
  /** Hops in order (empty when `from === to`). */
  readonly steps: readonly MigrationStep[];
  /** Kinds of the hops, in order. */
  readonly kinds: readonly MigratorKind[];
  /** Whether a hop is a `lossy` downgrade (needs `allowLossy`). */
  readonly lossy: boolean;
  /** Whether a hop is a downgrade that may refuse values (`injective` or `lossy`). */
  readonly mayRefuse: boolean;
}

/** Options of a migration. */
export interface MigrationPolicy {
  /** Allow downgrades through `lossy` migrators (default `false`). */
  readonly allowLossy?: boolean;
  /**
   * Validate the input against the source version and each hop's output against its version
   * (default `true`). Invalid migrator output raises `SCHEMA_MIGRATION_FAILED`.
   */
  readonly validate?: boolean;
}

/**
 * The plan from `from` to `to` over `migrators` (index `i` connects versions `i + 1` and `i + 2`).
 * Versions must already be known to exist.
 *
 * @param driver - driver name.
 * @param migrators - neighbour migrators in version order.
 * @param from - source version.
 * @param to - target version.
 */
export function planPath(
  driver: string,
  migrators: readonly NeighbourMigrator[],
  from: number,
  to: number,
): MigrationPlan {
  const steps: MigrationStep[] = [];
  if (to > from) {
    for (let v = from; v < to; v++)
      steps.push({ from: v, to: v + 1, direction: "up", kind: migrators[v - 1]!.kind });
  } else {
    for (let v = from; v > to; v--)
      steps.push({ from: v, to: v - 1, direction: "down", kind: migrators[v - 2]!.kind });
  }
  const downs = steps.filter((s) => s.direction === "down");
  return Object.freeze({
    driver,
    from,
    to,
    steps: Object.freeze(steps.map((s) => Object.freeze(s))),
    kinds: Object.freeze(steps.map((s) => s.kind)),
    lossy: downs.some((s) => s.kind === "lossy"),
    mayRefuse: downs.some((s) => s.kind !== "iso"),
  });
}
