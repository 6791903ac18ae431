/**
 * What a benchmark prints. Without `--json`: its text for people on standard output, and a progress
 * bar (`cli-progress`) on standard error while it runs, when standard error is a terminal. With
 * `--json`: nothing but its figures, as one JSON document on standard output (no text, no bar), so
 * `node bench/x.mjs --json > x.json` records a run.
 */
import cliProgress from "cli-progress";
import { environment } from "./stats.mjs";

/**
 * @param {{ json?: boolean }} options - the benchmark's parsed options.
 * @returns {{
 *   json: boolean,
 *   log(...args: unknown[]): void,
 *   environment(): void,
 *   progress(total: number): { tick(step: string): void, stop(): void },
 *   figures(value: unknown): void,
 * }}
 */
export function benchOutput(options) {
  const json = options.json === true;
  /** @type {import("cli-progress").SingleBar | undefined} */
  let bar;
  return {
    json,
    /** A line of text for people (dropped with `--json`); the bar, if any, is redrawn below it. */
    log(...args) {
      if (json) return;
      if (bar !== undefined) process.stderr.write("\r\x1b[K");
      console.log(...args);
      bar?.render(true);
    },
    /** The machine and load, as one `#` line. */
    environment() {
      const env = environment();
      this.log(
        `# ${env.date} · ${env.nproc} CPU(s) · ${env.cpu} · ${env.memory} RAM · node ${env.node} (V8 ${env.v8}) · load ${env.loadavg.join(" ")}`,
      );
    },
    /** A progress bar of `total` steps; a no-op with `--json` or when standard error is no terminal. */
    progress(total) {
      if (json || !process.stderr.isTTY) return { tick() {}, stop() {} };
      bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: "{bar} {value}/{total} {step}",
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { step: "" });
      const active = bar;
      return {
        tick(step) {
          active.increment(1, { step });
        },
        stop() {
          active.stop();
          if (bar === active) bar = undefined;
        },
      };
    },
    /** The run's figures: printed as JSON with `--json`, nothing otherwise (the text has them). */
    figures(value) {
      if (json) process.stdout.write(`${JSON.stringify(value, jsonSafe, 2)}\n`);
    },
  };
}

/** JSON has no bigint: print them as decimal strings. */
function jsonSafe(_key, value) {
  return typeof value === "bigint" ? value.toString() : value;
}
