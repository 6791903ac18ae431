/**
 * Runs every benchmark in bench/ (each `*.mjs` except this file), one after the other, each in its
 * own `node --expose-gc` process so they do not share a heap or JIT state. Output is forwarded as
 * is. Arguments, if any, are substrings that select benchmarks by file name
 * (`node bench/run.mjs memory` runs only memory-copy.mjs). Exit code: non-zero if any benchmark
 * failed.
 *
 * `npm run bench` builds first (`tsc -b`) and then runs this.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);
const filters = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((name) => name.endsWith(".mjs"))
  .map((name) => join(here, name))
  .filter((path) => path !== self)
  .filter((path) => filters.length === 0 || filters.some((f) => path.slice(here.length + 1).includes(f)))
  .sort();

const failures = [];
for (const bench of benches) {
  const name = bench.slice(here.length + 1);
  console.log(`\n=== ${name} ===`);
  const started = performance.now();
  const result = spawnSync(process.execPath, ["--expose-gc", bench], {
    stdio: "inherit",
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const status =
    result.error?.message ?? (result.signal !== null ? `signal ${result.signal}` : result.status);
  console.log(`=== ${name}: ${status === 0 ? "ok" : `failed (${status})`} in ${seconds} s ===`);
  if (status !== 0) failures.push(name);
}
if (failures.length > 0) {
  console.log(`\n${failures.length} benchmark(s) failed: ${failures.join(", ")}`);
  process.exitCode = 1;
}
