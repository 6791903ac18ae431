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
      "hardware.json",
      "preserved.json",
    ]);
    const dtb = readFileSync(join(out, "handover.dtb"));
    expect(dtb.readUInt32BE(0)).toBe(0xd00dfeed);

    const inspect = liveupdate("inspect", out, "--json");
    expect(inspect.status).toBe(0);
    const handover = JSON.parse(inspect.stdout);
    expect(handover.subtrees.map((s: { name: string }) => s.name)).toEqual(["kho_test"]);
    expect(handover.perOwner[0]).toMatchObject({ owner: "kho_test folios", folios: 48 });
  });

  it("is linked at the repository root: npx liveupdate lists every subcommand", () => {
    const root = join(import.meta.dirname, "..");
    const run = spawnSync(join(root, "node_modules", ".bin", "liveupdate"), ["--help"], {
      encoding: "utf8",
      cwd: root,
    });
    expect(run.status).toBe(0);
    const commands = [...run.stdout.matchAll(/^ {2}([a-z][a-z-]+)/gm)].map((m) => m[1]);
    expect(commands).toEqual(["demo", "kho-selftest", "inspect", "matrix", "help"]);
    // The README's command list names every one.
    const readme = readFileSync(join(root, "README.md"), "utf8");
    for (const command of commands.filter((c) => c !== "help"))
      expect(readme).toContain(`liveupdate ${command}`);
  });

  it("rejects bad options with a usage error and a non-zero exit", () => {
    const run = liveupdate("kho-selftest", "--max-order", "11");
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("--max-order");
  });
});
