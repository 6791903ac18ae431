import { DriverDeclarationError } from "../luo/handlers/errors.js";
import { getHandlerMetadata, getPhaseGuards } from "../luo/handlers/metadata.js";
import type { DriverClass, FlbClass } from "../luo/handlers/types.js";
import { LUO_PHASES, type LuoPhase } from "../luo/phase.js";

/**
 * One cell of a phase table: `allowed`, `dirty` (allowed during brownout; the object is
 * re-serialized at freeze), `EBUSY` (refused with that errno), `ENOENT` (nothing to act on: no
 * incoming session exists in that phase) or `n/a` (the call needs an object that cannot exist then).
 */
export type PhaseCell = "allowed" | "dirty" | "EBUSY" | "ENOENT" | "n/a";

/** One operation of a phase table. */
export interface PhaseTableRow {
  /** Operation name. */
  readonly operation: string;
  /** Where it comes from: a driver's `@PhaseGuard` method, or an orchestrator session call. */
  readonly source: "driver" | "luo";
  /** One-line description, if declared. */
  readonly description: string | undefined;
  /** The verdict per phase. */
  readonly cells: Readonly<Record<LuoPhase, PhaseCell>>;
}

/**
 * The orchestrator's own session operations and the phases they are allowed in (upstream's
 * `LIVEUPDATE_IOCTL_*` / session ioctls). `preserve` during brownout prepares and serializes the
 * object at once; `unpreserve`/`close` during brownout cancel its objects. Incoming sessions exist
 * only in UPDATED (an update can only be prepared once every incoming session is finished).
 */
export const SESSION_OPERATION_TABLE: readonly PhaseTableRow[] = Object.freeze(
  (
    [
      ["createSession", "allowed", "allowed", "EBUSY", "allowed", "create a named outgoing session"],
      ["preserve", "allowed", "allowed", "EBUSY", "allowed", "preserve an object by token"],
      ["unpreserve", "allowed", "allowed", "EBUSY", "allowed", "drop an object from its session"],
      ["closeSession", "allowed", "allowed", "EBUSY", "allowed", "cancel and drop every object of a session"],
      ["retrieveSession", "ENOENT", "ENOENT", "ENOENT", "allowed", "take an incoming session by name (once)"],
      ["retrieve", "n/a", "n/a", "n/a", "allowed", "get a restored object by token"],
      ["finishSession", "n/a", "n/a", "n/a", "allowed", "canFinish on all objects, then finish"],
    ] as const
  ).map(([operation, normal, prepared, frozen, updated, description]) =>
    Object.freeze({
      operation,
      source: "luo" as const,
      description,
      cells: Object.freeze({ NORMAL: normal, PREPARED: prepared, FROZEN: frozen, UPDATED: updated }),
    }),
  ),
);

/**
 * The "which operations are allowed in which phase" table of a driver (or FLB), generated from its
 * `@PhaseGuard` declarations. Objects that are not preserved are never restricted; the table
 * describes operations on preserved objects.
 *
 * @param cls - a `@LiveUpdateDriver` or `@LiveUpdateFlb` class.
 * @param options - `sessionOperations: true` appends {@link SESSION_OPERATION_TABLE}.
 * @throws {@link DriverDeclarationError} when `cls` is not a driver or FLB class.
 */
export function phaseTable(
  cls: DriverClass | FlbClass,
  options: { sessionOperations?: boolean } = {},
): readonly PhaseTableRow[] {
  if (getHandlerMetadata(cls) === undefined) {
    throw new DriverDeclarationError(`${cls.name}: not a @LiveUpdateDriver or @LiveUpdateFlb class`, {
      driver: cls.name,
    });
  }
  const rows: PhaseTableRow[] = getPhaseGuards(cls).map((g) => ({
    operation: g.operation,
    source: "driver",
    description: g.description,
    cells: Object.freeze({
      NORMAL: "allowed",
      PREPARED: g.brownout === "dirty" ? "dirty" : "EBUSY",
      FROZEN: "EBUSY",
      UPDATED: g.updated === "allow" ? "allowed" : "EBUSY",
    }),
  }));
  if (options.sessionOperations === true) rows.push(...SESSION_OPERATION_TABLE);
  return Object.freeze(rows);
}

const CELL_TEXT: Readonly<Record<PhaseCell, string>> = {
  allowed: "✅ allowed",
  dirty: "✅ dirty → re-serialized at freeze",
  EBUSY: "⛔ `EBUSY`",
  ENOENT: "⛔ `ENOENT` (no incoming session)",
  "n/a": "—",
};

/**
 * Renders {@link phaseTable} as a markdown table (one row per operation, one column per phase).
 *
 * @param cls - a `@LiveUpdateDriver` or `@LiveUpdateFlb` class.
 * @param options - `sessionOperations: true` appends the orchestrator's session operations.
 * @example
 * ```ts
 * console.log(renderPhaseTable(CounterDriver, { sessionOperations: true }));
 * ```
 */
export function renderPhaseTable(
  cls: DriverClass | FlbClass,
  options: { sessionOperations?: boolean } = {},
): string {
  const name = getHandlerMetadata(cls)?.name ?? cls.name;
  const rows = phaseTable(cls, options);
  const header = `| operation | ${LUO_PHASES.map((p) => (p === "PREPARED" ? "PREPARED (brownout)" : p === "FROZEN" ? "FROZEN (blackout)" : p)).join(" | ")} |`;
  const rule = `|${" --- |".repeat(LUO_PHASES.length + 1)}`;
  const lines = rows.map((row) => {
    const label = row.source === "driver" ? `\`${name}.${row.operation}\`` : `\`luo.${row.operation}\``;
    const described = row.description === undefined ? label : `${label} — ${row.description}`;
    return `| ${described} | ${LUO_PHASES.map((p) => CELL_TEXT[row.cells[p]]).join(" | ")} |`;
  });
  return [header, rule, ...lines].join("\n");
}

/** The marker a guide puts on the line before its generated phase table. */
export const PHASE_TABLE_MARKER = "<!-- generated: phase-table -->";

/**
 * Whether a guide still shows the phase table {@link renderPhaseTable} generates: the markdown
 * table right after {@link PHASE_TABLE_MARKER} is compared with the generated one, ignoring
 * whitespace and rule widths (a formatter may re-pad the table).
 *
 * @param markdown - the guide's text.
 * @param cls - the driver or FLB class.
 * @param options - as for {@link renderPhaseTable}.
 * @returns `undefined` when they agree, else what is wrong (no marker, or the two tables).
 * @example
 * ```ts
 * expect(phaseTableDrift(readFileSync("docs/guides/vfio.md", "utf8"), VfioPciDriver)).toBeUndefined();
 * ```
 */
export function phaseTableDrift(
  markdown: string,
  cls: DriverClass | FlbClass,
  options: { sessionOperations?: boolean } = {},
): string | undefined {
  const lines = markdown.split("\n");
  const start = lines.indexOf(PHASE_TABLE_MARKER) + 1;
  if (start === 0) return `the guide has no ${PHASE_TABLE_MARKER} line`;
  let end = start;
  while (end < lines.length && lines[end]!.startsWith("|")) end++;
  const shown = lines.slice(start, end).join("\n");
  const generated = renderPhaseTable(cls, options);
  const normalize = (text: string) => text.replace(/\s+/g, "").replace(/-{3,}/g, "---");
  return normalize(shown) === normalize(generated)
    ? undefined
    : `the guide's phase table differs from the generated one:\n${shown}\n--- generated ---\n${generated}`;
}
