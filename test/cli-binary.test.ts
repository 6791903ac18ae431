import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const bin = join(import.meta.dirname, "..", "packages", "cli", "dist", "main.js");

/** Runs the built `liveupdate` binary as a user would (npm test builds it before the tests). */
function liveupdate(...args: string[]) {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run "npm run build" (npm test does) first`);
  return spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
}

describe("the liveupdate binary", () => {
  it("runs the KHO self-test over a chain of kexecs and writes inspectable artifacts", () => {
    const out = mkdtempSync(join(tmpdir(), "lu-e2e-"));
    const run = liveupdate(
      "kho-selftest",
      "--memory",
      "2G",
      "--folios",
      "48",
      "--kexecs",
      "3",
      "--seed",
      "42",
      "--out",
      out,
      "--json",
    );
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.hops).toHaveLength(3);
    expect(report.files.map((f: string) => f.slice(out.length + 1))).toEqual([
      "handover.dtb",
      "memory.img",
      "boot-data.json",
      "preserved.json",
    ]);
    const dtb = readFileSync(join(out, "handover.dtb"));
    expect(dtb.readUInt32BE(0)).toBe(0xd00dfeed);
  });

  it("rejects bad options with a usage error and a non-zero exit", () => {
    const run = liveupdate("kho-selftest", "--max-order", "11");
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("--max-order");
  });
});
