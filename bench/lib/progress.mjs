/**
 * Progress of a long benchmark on a terminal: a `cli-progress` bar on standard error when it is a
 * TTY and the benchmark prints no JSON; nothing otherwise (piped output holds only the results).
 */
import cliProgress from "cli-progress";

/**
 * @param {number} total - steps of the run.
 * @param {{ json?: boolean }} options - the benchmark's options.
 * @returns {{ tick(step: string): void, stop(): void }}
 */
export function benchProgress(total, options = {}) {
  if (!process.stderr.isTTY || options.json === true) return { tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: "{bar} {value}/{total} {step}",
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { step: "" });
  return {
    tick(step) {
      bar.increment(1, { step });
    },
    stop() {
      bar.stop();
    },
  };
}
