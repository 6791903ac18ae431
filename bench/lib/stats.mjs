/**
 * Small helpers shared by the benchmarks: timing, statistics, formatting, environment.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export function now() {
  return performance.now();
}

/** Runs `fn` and returns its duration in milliseconds. */
export function time(fn) {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

/** Median of a non-empty list of numbers. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Collects garbage when node runs with `--expose-gc` (bench/run.mjs does); no-op otherwise. */
export function collectGarbage() {
  if (typeof globalThis.gc === "function") globalThis.gc();
}

/** Formats milliseconds with a sensible number of digits. */
export function ms(value) {
  if (value >= 100) return `${value.toFixed(0)} ms`;
  if (value >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

/** Formats a byte count as B / KiB / MiB with up to two decimals. */
export function bytes(value) {
  if (value >= 1024 * 1024) return `${+(value / (1024 * 1024)).toFixed(2)} MiB`;
  if (value >= 1024) return `${+(value / 1024).toFixed(2)} KiB`;
  return `${value} B`;
}

/** Formats a throughput in GiB/s. */
export function gibPerSecond(byteCount, millis) {
  return `${(byteCount / 2 ** 30 / (millis / 1000)).toFixed(2)} GiB/s`;
}

/** Date, host and runtime facts to print with results. */
export function environment() {
  let cpu = os.cpus()[0]?.model ?? "unknown";
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line !== undefined) cpu = line.split(":")[1].trim();
  } catch {
    // not Linux: keep os.cpus()
  }
  let nproc = os.availableParallelism?.() ?? os.cpus().length;
  try {
    nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim());
  } catch {
    // keep the os value
  }
  return {
    date: new Date().toISOString(),
    nproc,
    cpu,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    v8: process.versions.v8,
    loadavg: os.loadavg().map((l) => l.toFixed(2)),
  };
}

/** Prints the environment as one line. */
export function printEnvironment() {
  const env = environment();
  console.log(
    `# ${env.date} · ${env.nproc} CPU(s) · ${env.cpu} · ${env.memory} RAM · node ${env.node} (V8 ${env.v8}) · load ${env.loadavg.join(" ")}`,
  );
}

/** The 1-minute load average (other work on the host skews timings; printed with results). */
export function loadAverage() {
  return os.loadavg()[0].toFixed(2);
}
