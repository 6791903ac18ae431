import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// Every benchmark prints through bench/lib/output.mjs; the phase-guard benchmark is the quickest
// real one, so it stands for all of them here.
const bench = join(import.meta.dirname, "..", "bench", "phase-guard.mjs");
const quick = ["--reps", "3", "--calls", "2000"];

function run(...args: string[]) {
  return spawnSync(process.execPath, ["--expose-gc", bench, ...quick, ...args], { encoding: "utf8" });
}

describe("benchmark output", () => {
  it("prints only the figures as JSON with --json, and no progress bar", () => {
    const r = run("--json");
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    const figures = JSON.parse(r.stdout);
    expect(figures).toMatchObject({ calls: 2000, reps: 3 });
    expect(figures.ratio).toBeGreaterThan(0);
  });

  it("prints its text and no progress bar when the output is not a terminal", () => {
    const r = run();
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("| NORMAL ");
    expect(r.stdout).not.toContain("░");
  });

  it("shows a progress bar on a terminal, then the text", () => {
    // util-linux `script` runs the benchmark on a pseudo-terminal (stdout and stderr both on it).
    const command = [process.execPath, "--expose-gc", bench, ...quick].join(" ");
    const r = spawnSync("script", ["-qec", command, "/dev/null"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/░+ 0\/6/); // the bar drawn empty at the start …
    expect(r.stdout).toMatch(/█+ 6\/6 rep 3/); // … and full after the last step
    expect(r.stdout).toContain("| PREPARED ");
  });
});
