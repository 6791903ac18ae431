import type { CorruptionKind } from "./corruption.js";

/** The checks {@link verifyDriverConformance} runs, in order. */
export type ConformanceCheckName =
  | "round-trip"
  | "migrator-laws"
  | "update"
  | "poison"
  | "version-pairs"
  | "cancel"
  | "virtual-addresses"
  | "corruption";

/** Every {@link ConformanceCheckName}, in the order the checks run. */
export const CONFORMANCE_CHECKS: readonly ConformanceCheckName[] = Object.freeze([
  "round-trip",
  "migrator-laws",
  "update",
  "poison",
  "version-pairs",
  "cancel",
  "virtual-addresses",
  "corruption",
]);

/** One thing a check found wrong. */
export interface ConformanceFailure {
  /** What is wrong, naming the object, version or trial concerned. */
  readonly message: string;
  /** The error behind it, when there is one. */
  readonly error?: unknown;
}

/** The result of one check. */
export interface ConformanceCheckResult {
  /** Which check. */
  readonly name: ConformanceCheckName;
  /** `skipped` when excluded by the options or not applicable. */
  readonly status: "passed" | "failed" | "skipped";
  /** Wall-clock duration. */
  readonly durationMs: number;
  /** One line: what was checked and the outcome. */
  readonly summary: string;
  /** What was tried, one line each. */
  readonly details: readonly string[];
  /** What went wrong (empty when passed). */
  readonly failures: readonly ConformanceFailure[];
}

/** One (writer, reader) pair of the `version-pairs` check. */
export interface VersionPairResult {
  /** Writer driver class (the driver, a `withNative` adapter or a peer). */
  readonly writer: string;
  /** Reader driver class. */
  readonly reader: string;
  /** Versions the writer writes. */
  readonly writes: readonly number[];
  /** Versions the reader reads. */
  readonly reads: readonly number[];
  /** Version the negotiation picked, when it succeeded. */
  readonly version: number | undefined;
  /**
   * `restored`: every object of the population was restored equal (`assertRestored`) or refused
   * with a typed error before the kexec (a down-migration refusing its value), and some were
   * restored; `refused`: negotiation refused the pair (no common version, a lossy path) or every
   * object was refused; `failed`: some object was neither.
   */
  readonly outcome: "restored" | "refused" | "failed";
  /** The counts of objects, and the refusal reasons (or why negotiation refused). */
  readonly detail: string;
  /** Objects restored equal (`assertRestored` passed). */
  readonly restored: number;
  /** Objects refused with a typed error before the kexec (the old kernel kept them intact). */
  readonly refused: number;
  /** Objects that were neither (the check's failures name them). */
  readonly failed: number;
}

/** What happened to one object in a corruption trial. */
export interface CorruptionObjectResult {
  /** The object's token. */
  readonly token: bigint;
  /** What the testkit's independent reading of the corrupted handover predicted. */
  readonly expected: "reject" | "intact" | "intact-or-reject" | "value";
  /**
   * What the new kernel did: `rejected` (a typed error: boot, reset or retrieve), `intact`
   * (restored and `assertRestored` passed), `changed` (restored, `assertRestored` failed) or `crash`
   * (an untyped exception, or a typed one caused by an untyped one).
   */
  readonly actual: "rejected" | "intact" | "changed" | "crash";
  /** Whether the outcome is allowed for the prediction. */
  readonly ok: boolean;
  /** Prediction reason and outcome detail. */
  readonly detail: string;
}

/** One corruption trial. */
export interface CorruptionTrialResult {
  /** Trial number (replay it with `corruption.only`). */
  readonly trial: number;
  /** Family of the corruption. */
  readonly kind: CorruptionKind;
  /** What was changed. */
  readonly description: string;
  /** Per object. */
  readonly objects: readonly CorruptionObjectResult[];
  /** Whether every object's outcome was allowed. */
  readonly ok: boolean;
}

/** The structured result of {@link verifyDriverConformance}. */
export interface ConformanceReport {
  /** Driver name (its schema name). */
  readonly driver: string;
  /** The driver class's name. */
  readonly driverClass: string;
  /** `true` when no check failed. */
  readonly ok: boolean;
  /** The seed used (pass it back to reproduce the run). */
  readonly seed: number;
  /** Total wall-clock duration. */
  readonly durationMs: number;
  /** Every check, in order. */
  readonly checks: readonly ConformanceCheckResult[];
  /** The `version-pairs` check's pairs. */
  readonly pairs: readonly VersionPairResult[];
  /** The `corruption` check's trials. */
  readonly trials: readonly CorruptionTrialResult[];
}

/** Options of {@link formatConformanceReport}. */
export interface FormatReportOptions {
  /** Include the details of passed checks (default false). */
  readonly verbose?: boolean;
  /** Most failures listed per check (default 5). */
  readonly maxFailures?: number;
}

/**
 * Renders a report for humans: one line per check that ran (✓ / ✗), the failures of failed
 * checks, one line naming the skipped checks, and with `verbose` the details of every check.
 *
 * @param report - a conformance report.
 * @param options - verbosity.
 */
export function formatConformanceReport(
  report: ConformanceReport,
  options: FormatReportOptions = {},
): string {
  const max = options.maxFailures ?? 5;
  const failed = report.checks.filter((c) => c.status === "failed");
  const lines: string[] = [
    report.ok
      ? `${report.driver} (${report.driverClass}) passes ${report.checks.filter((c) => c.status === "passed").length} conformance checks (seed ${report.seed}, ${Math.round(report.durationMs)} ms)`
      : `${report.driver} (${report.driverClass}) fails ${failed.length} of ${report.checks.filter((c) => c.status !== "skipped").length} conformance checks (seed ${report.seed}, ${Math.round(report.durationMs)} ms)`,
  ];
  const skipped = report.checks.filter((c) => c.status === "skipped").map((c) => c.name);
  for (const check of report.checks) {
    if (check.status === "skipped") continue;
    const mark = check.status === "passed" ? "✓" : "✗";
    lines.push(`  ${mark} ${check.name}: ${check.summary} (${Math.round(check.durationMs)} ms)`);
    if (check.status === "failed") {
      for (const f of check.failures.slice(0, max)) lines.push(`      - ${indent(f.message)}`);
      if (check.failures.length > max) lines.push(`      … and ${check.failures.length - max} more`);
    }
    if (options.verbose === true) for (const d of check.details) lines.push(`      · ${indent(d)}`);
  }
  if (skipped.length > 0) lines.push(`  – skipped: ${skipped.join(", ")}`);
  return lines.join("\n");
}

function indent(text: string): string {
  return text.replace(/\n/g, "\n        ");
}
