import { LiveUpdateError } from "@liveupdate/core";

/** Where command output goes; tests pass their own. */
export interface CommandIo {
  /** Standard output. */
  out(text: string): void;
  /** Standard error. */
  err(text: string): void;
  /** Sets the process exit code. */
  setExitCode(code: number): void;
  /**
   * Whether standard output is a terminal (progress is shown only then). Default: not a terminal,
   * so captured output never holds progress bars.
   */
  readonly isTTY?: boolean;
  /** Where progress is drawn when {@link CommandIo.isTTY} (default: standard error of the process). */
  readonly progressStream?: NodeJS.WritableStream;
}

/** JSON with bigints as `0x…` strings (tokens, u64 fields). */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v), 2)}\n`;
}

/**
 * Reports a typed failure the way every command does — `<title>: FAIL`, the code and message, the
 * context as JSON — and sets exit status 1. Anything that is not a {@link LiveUpdateError} is a bug
 * and is rethrown (a stack trace is then the right output).
 */
export function reportFailure(io: CommandIo, title: string, error: unknown): void {
  if (!(error instanceof LiveUpdateError)) throw error;
  const context = JSON.stringify(error.context, (_key, v: unknown) =>
    typeof v === "bigint" ? `0x${v.toString(16)}` : v,
  );
  io.err(`${title}: FAIL\n  ${error.code}: ${error.message}\n  ${context}\n`);
  io.setExitCode(1);
}
