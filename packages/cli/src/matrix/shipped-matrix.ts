import {
  compatibilityMatrix,
  type DriverNegotiation,
  DriverRegistry,
  formatCell,
  type MigrationStep,
  type MigratorKind,
  type NegotiationPolicy,
  type UpdateDirection,
} from "@liveupdate/core";
import { SHIPPED_BUILDS } from "../builds/registry.js";
import type { ShippedBuilds } from "../builds/shipped.js";

/**
 * How a driver's state gets from one build to the other, by the worst migrator on the way:
 * `same` (no migration), `iso`, `injective` (a down step may refuse values), `lossy`, `refused`
 * (no version both agree on), or `absent` (the running build does not have the driver).
 */
export type PathKind = "same" | MigratorKind | "refused" | "absent";

/** One driver for one update of a {@link ShippedMatrix} set. */
export interface ShippedMatrixCell {
  /** Running build. */
  readonly from: string;
  /** Target build. */
  readonly to: string;
  /** The driver (or FLB, or the orchestrator's own `luo` state). */
  readonly driver: string;
  /** Version written to the handover and read from it (when negotiation found one). */
  readonly version?: number;
  /** The running build's native version, when it has the driver. */
  readonly runningNative?: number;
  /** The target build's native version, when it has the driver. */
  readonly targetNative?: number;
  /** Migrator kinds the running build applies before writing (native → version). */
  readonly writeKinds: readonly MigratorKind[];
  /** Migrator kinds the target build applies after reading (version → native). */
  readonly readKinds: readonly MigratorKind[];
  /** The worst step on the way. */
  readonly kind: PathKind;
  /** Why the update is refused for this driver. */
  readonly reason?: string;
  /** Short text, as the grid shows it (`v1 r:up injective`). */
  readonly text: string;
}

/** One update (ordered pair of builds) of a set. */
export interface ShippedMatrixPair {
  /** Running build. */
  readonly from: string;
  /** Target build. */
  readonly to: string;
  /** Upgrade or downgrade, by the set's build order. */
  readonly direction: UpdateDirection;
  /** Whether the set declares this update supported. */
  readonly supported: boolean;
  /** Whether every driver can hand its state over. */
  readonly ok: boolean;
  /** Drivers that refuse the update, sorted. */
  readonly refusedBy: readonly string[];
}

/** The compatibility matrix of one set of shipped builds. */
export interface ShippedMatrixSet {
  /** Set name. */
  readonly name: string;
  /** Set description. */
  readonly description: string;
  /** Build versions, oldest first. */
  readonly builds: readonly string[];
  /** Every driver of any build of the set, sorted. */
  readonly drivers: readonly string[];
  /** Updates in build order. */
  readonly pairs: readonly ShippedMatrixPair[];
  /** One cell per update and driver, updates in build order, then drivers. */
  readonly cells: readonly ShippedMatrixCell[];
}

/** {@link shippedMatrix}'s result. */
export interface ShippedMatrix {
  /** One matrix per set. */
  readonly sets: readonly ShippedMatrixSet[];
  /** Updates a set declares supported that negotiation refuses (the command then fails). */
  readonly refusedSupported: readonly (ShippedMatrixPair & { readonly set: string })[];
}

/** Options of {@link shippedMatrix}. */
export interface ShippedMatrixOptions {
  /** The sets (default: {@link SHIPPED_BUILDS}). */
  readonly sets?: readonly ShippedBuilds[];
  /** Update policy for every pair (default: lossy migration refused). */
  readonly policy?: NegotiationPolicy;
}

const KIND_ORDER: readonly PathKind[] = ["same", "iso", "injective", "lossy"];

function worst(steps: readonly MigrationStep[]): PathKind {
  let index = 0;
  for (const step of steps) index = Math.max(index, KIND_ORDER.indexOf(step.kind));
  return KIND_ORDER[index]!;
}

function cellOf(from: string, to: string, result: DriverNegotiation): ShippedMatrixCell {
  const base = { from, to, driver: result.driver, text: formatCell(result) };
  switch (result.status) {
    case "ok":
      return {
        ...base,
        version: result.version,
        runningNative: result.runningNative,
        targetNative: result.targetNative,
        writeKinds: result.writePath.map((s) => s.kind),
        readKinds: result.readPath.map((s) => s.kind),
        kind: worst([...result.writePath, ...result.readPath]),
      };
    case "impossible":
      return { ...base, writeKinds: [], readKinds: [], kind: "refused", reason: result.reason };
    case "absent":
      return { ...base, writeKinds: [], readKinds: [], kind: "absent" };
  }
}

/**
 * Negotiates every driver of every shipped set for every ordered pair of the set's builds (with
 * core's {@link compatibilityMatrix} over the builds' catalogs), and lists the updates a set
 * declares supported that are refused.
 */
export function shippedMatrix(options: ShippedMatrixOptions = {}): ShippedMatrix {
  const sets = (options.sets ?? SHIPPED_BUILDS).map((set): ShippedMatrixSet => {
    const catalogs = set.builds.map((build) => DriverRegistry.of(build).catalog());
    const matrix = compatibilityMatrix(
      catalogs,
      options.policy === undefined ? {} : { policy: options.policy },
    );
    const supported = new Set(set.supported.map((p) => `${p.from}\n${p.to}`));
    return {
      name: set.name,
      description: set.description,
      builds: matrix.builds,
      drivers: matrix.drivers,
      pairs: matrix.pairs.map((p) => ({
        from: p.from,
        to: p.to,
        direction: p.direction,
        supported: supported.has(`${p.from}\n${p.to}`),
        ok: p.ok,
        refusedBy: p.failingDrivers,
      })),
      cells: matrix.cells.map((c) => cellOf(c.from, c.to, c.result)),
    };
  });
  const refusedSupported = sets.flatMap((set) =>
    set.pairs.filter((p) => p.supported && !p.ok).map((p) => ({ set: set.name, ...p })),
  );
  return { sets, refusedSupported };
}
