import type { MigrationStep } from "../versions/plan.js";
import type { KernelBuildCatalog } from "./catalog.js";
import { CatalogInvalidError } from "./errors.js";
import { type DriverNegotiation, type NegotiationPolicy, negotiateDriver } from "./negotiate.js";

/** Whether an ordered build pair moves forward or backward in the order the builds were given. */
export type UpdateDirection = "upgrade" | "downgrade";

/** One cell of a {@link CompatibilityMatrix}: one driver for one ordered pair of builds. */
export interface MatrixCell {
  /** The running build's version. */
  readonly from: string;
  /** The target build's version. */
  readonly to: string;
  /** `upgrade` when `to` comes after `from` in the builds list, else `downgrade`. */
  readonly direction: UpdateDirection;
  /** The driver. */
  readonly driver: string;
  /** Chosen version and migrator path, the reason it is impossible, or `absent`. */
  readonly result: DriverNegotiation;
}

/** Whether a whole update (all drivers) between two builds is possible. */
export interface MatrixPair {
  /** The running build's version. */
  readonly from: string;
  /** The target build's version. */
  readonly to: string;
  /** See {@link MatrixCell.direction}. */
  readonly direction: UpdateDirection;
  /** True when no driver of the running build fails. */
  readonly ok: boolean;
  /** The drivers that make the update impossible, sorted by name. */
  readonly failingDrivers: readonly string[];
}

/** The result of {@link compatibilityMatrix}. */
export interface CompatibilityMatrix {
  /** Build versions in the order given (oldest first). */
  readonly builds: readonly string[];
  /** Every driver found in any build, sorted by name. */
  readonly drivers: readonly string[];
  /** One cell per ordered pair of distinct builds and driver: pairs in build order, then drivers. */
  readonly cells: readonly MatrixCell[];
  /** One summary per ordered pair of distinct builds, in build order. */
  readonly pairs: readonly MatrixPair[];
}

/** Options of {@link compatibilityMatrix}. */
export interface CompatibilityMatrixOptions {
  /** The update policy applied to every pair (by default lossy migration is refused). */
  readonly policy?: NegotiationPolicy;
}

/**
 * Negotiates every driver for every ordered pair of distinct builds — upgrades and downgrades — so
 * that non-transitive cases show: A→B and B→C may work while A→C does not. Builds are given oldest
 * first; that order decides which pairs are upgrades.
 *
 * A driver only one build of a pair has is reported per cell: missing in the target is
 * `impossible` with code `NEGOTIATION_DRIVER_MISSING` (its preserved state would have no reader),
 * missing in the running build is `absent` with `inTarget: true` (nothing to hand over; the target
 * starts it fresh). Whether a missing driver matters in practice depends on whether it has
 * preserved objects; the matrix assumes it does.
 *
 * @throws CatalogInvalidError when two builds share a version string.
 */
export function compatibilityMatrix(
  builds: readonly KernelBuildCatalog[],
  options: CompatibilityMatrixOptions = {},
): CompatibilityMatrix {
  const seen = new Set<string>();
  for (const b of builds) {
    if (seen.has(b.version)) {
      throw new CatalogInvalidError(`compatibility matrix: build ${b.version} listed twice`, {
        build: b.version,
      });
    }
    seen.add(b.version);
  }
  const drivers = [...new Set(builds.flatMap((b) => Object.keys(b.catalog)))].sort();
  const cells: MatrixCell[] = [];
  const pairs: MatrixPair[] = [];
  builds.forEach((from, i) => {
    builds.forEach((to, j) => {
      if (i === j) return;
      const direction: UpdateDirection = j > i ? "upgrade" : "downgrade";
      const failing: string[] = [];
      for (const driver of drivers) {
        const result = negotiateDriver(from, to, driver, options.policy);
        if (result.status === "impossible") failing.push(driver);
        cells.push({ from: from.version, to: to.version, direction, driver, result });
      }
      pairs.push({
        from: from.version,
        to: to.version,
        direction,
        ok: failing.length === 0,
        failingDrivers: failing,
      });
    });
  });
  return { builds: builds.map((b) => b.version), drivers, cells, pairs };
}

/** Looks up one cell of a matrix, or `undefined` for a self pair or unknown names. */
export function matrixCell(
  matrix: CompatibilityMatrix,
  from: string,
  to: string,
  driver: string,
): MatrixCell | undefined {
  return matrix.cells.find((c) => c.from === from && c.to === to && c.driver === driver);
}

function pathText(steps: readonly MigrationStep[]): string {
  if (steps.length === 0) return "";
  const direction = steps[0]!.direction;
  return `${direction} ${steps.map((s) => s.kind).join(",")}`;
}

/**
 * The short text of one result as the printed matrix shows it: `v2` (no migration), `v1 w:down iso`
 * (the running build migrates down), `v3 r:up injective` (the target migrates up), `v1 … LOSSY`,
 * `x no common version`, `x lossy refused`, `x missing in target`, `new` (only the target has the
 * driver) or `-` (neither has it).
 */
export function formatCell(result: DriverNegotiation): string {
  switch (result.status) {
    case "ok": {
      const parts = [`v${result.version}`];
      const w = pathText(result.writePath);
      const r = pathText(result.readPath);
      if (w) parts.push(`w:${w}`);
      if (r) parts.push(`r:${r}`);
      if (result.lossy) parts.push("LOSSY");
      return parts.join(" ");
    }
    case "impossible":
      switch (result.code) {
        case "NEGOTIATION_NO_COMMON_VERSION":
          return "x no common version";
        case "NEGOTIATION_LOSSY_REFUSED":
          return "x lossy refused";
        case "NEGOTIATION_DRIVER_MISSING":
          return result.missingIn === "running" ? "x missing in running" : "x missing in target";
      }
      break;
    case "absent":
      return result.inTarget ? "new" : "-";
  }
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: readonly string[]) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join(" | ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map(line)];
}

/**
 * Renders a matrix as plain text: for each driver a grid with running builds as rows and target
 * builds as columns (cells as {@link formatCell}), then one line per ordered pair saying whether the
 * whole update works and which drivers block it.
 */
export function formatCompatibilityMatrix(matrix: CompatibilityMatrix): string {
  const out: string[] = [];
  for (const driver of matrix.drivers) {
    out.push(`driver ${driver} (rows: running build, columns: target build)`);
    const header = ["from \\ to", ...matrix.builds];
    const rows = matrix.builds.map((from) => [
      from,
      ...matrix.builds.map((to) => {
        if (from === to) return "=";
        const cell = matrixCell(matrix, from, to, driver);
        return cell === undefined ? "?" : formatCell(cell.result);
      }),
    ]);
    out.push(...table(header, rows), "");
  }
  out.push("updates:");
  for (const p of matrix.pairs) {
    const verdict = p.ok ? "ok" : `IMPOSSIBLE (${p.failingDrivers.join(", ")})`;
    out.push(`  ${p.from} -> ${p.to} (${p.direction}): ${verdict}`);
  }
  return `${out.join("\n")}\n`;
}
