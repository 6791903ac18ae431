import { textTable } from "../text-table.js";
import type { ShippedMatrix, ShippedMatrixCell, ShippedMatrixSet } from "./shipped-matrix.js";

function path(kinds: readonly string[], direction: "up" | "down"): string {
  return kinds.length === 0 ? "" : ` ${direction} ${kinds.join(",")}`;
}

/** One line of the per-update detail: version written, version read, migrators on the way. */
function detail(cell: ShippedMatrixCell): string {
  switch (cell.kind) {
    case "refused":
      return `REFUSED: ${cell.reason}`;
    case "absent":
      return cell.text === "new" ? "new in the target (starts fresh)" : "in neither build";
    default: {
      const write = cell.runningNative! > cell.version! ? "down" : "up";
      const read = cell.targetNative! > cell.version! ? "up" : "down";
      const migrated = (kinds: readonly string[], direction: "up" | "down", native: number, to: boolean) =>
        kinds.length === 0
          ? "native"
          : `migrated${path(kinds, direction)} ${to ? "to" : "from"} native v${native}`;
      return (
        `writes v${cell.version} (${migrated(cell.writeKinds, write, cell.runningNative!, false)}), ` +
        `reads v${cell.version} (${migrated(cell.readKinds, read, cell.targetNative!, true)}) [${cell.kind}]`
      );
    }
  }
}

function formatSet(set: ShippedMatrixSet): string[] {
  const out = [`${set.name} — ${set.description}`, `builds (oldest first): ${set.builds.join(", ")}`, ""];
  for (const driver of set.drivers) {
    out.push(`driver ${driver} (rows: running build, columns: target build)`);
    const rows = set.builds.map((from) => [
      from,
      ...set.builds.map((to) =>
        from === to
          ? "="
          : (set.cells.find((c) => c.from === from && c.to === to && c.driver === driver)?.text ?? "?"),
      ),
    ]);
    out.push(...textTable([["from \\ to", ...set.builds], ...rows], " | "), "");
  }
  out.push("updates (* = declared supported):");
  for (const pair of set.pairs) {
    const verdict = pair.ok ? "ok" : `REFUSED by ${pair.refusedBy.join(", ")}`;
    out.push(`${pair.supported ? "*" : " "} ${pair.from} -> ${pair.to} (${pair.direction}): ${verdict}`);
    const cells = set.cells.filter((c) => c.from === pair.from && c.to === pair.to);
    out.push(...textTable(cells.map((c) => [`     ${c.driver}`, detail(c)])));
  }
  return out;
}

/** Renders the matrix of every set for a terminal: per driver a grid, then every update in detail. */
export function formatShippedMatrix(matrix: ShippedMatrix): string {
  const out = matrix.sets.flatMap((set) => [...formatSet(set), ""]);
  if (matrix.refusedSupported.length > 0) {
    out.push("FAIL: updates declared supported are refused:");
    for (const p of matrix.refusedSupported)
      out.push(`  ${p.set}: ${p.from} -> ${p.to} (${p.refusedBy.join(", ")})`);
  } else {
    out.push("every update declared supported negotiates");
  }
  return `${out.join("\n")}\n`;
}
