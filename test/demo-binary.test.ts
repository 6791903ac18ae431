import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const bin = join(root, "packages", "cli", "dist", "main.js");
const walker = join(root, "packages", "core", "test", "hw", "iommu", "walk-image.py");

/** Runs the built `liveupdate` binary (npm test builds it before the tests). */
function liveupdate(...args: string[]) {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run "npm run build" (npm test does) first`);
  return spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
}

const small = ["--memory", "4G", "--vm-memory", "256M"];

interface MappingJson {
  iova: string;
  phys: string;
  length: string;
  write: boolean;
}

describe("liveupdate demo (the binary)", () => {
  it("prints the JSON report with the issue's field names, writes artifacts an independent walker and inspect agree with", () => {
    const out = mkdtempSync(join(tmpdir(), "lu-demo-"));
    const run = liveupdate("demo", ...small, "--seed", "9", "--out", out, "--json");
    expect(run.stderr).toBe(""); // not a terminal: no progress bar
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.result).toBe("PASS");
    expect(Object.keys(report)).toEqual(
      expect.arrayContaining([
        "result",
        "from",
        "to",
        "blackoutNs",
        "brownoutNs",
        "handoverBytes",
        "negotiated",
        "vms",
        "dma",
        "interrupts",
        "resets",
        "drivers",
      ]),
    );
    expect(Object.keys(report.vms[0])).toEqual(
      expect.arrayContaining(["name", "memoryBytes", "checksumBefore", "checksumAfter", "checksumExpected"]),
    );
    expect(Object.keys(report.dma)).toEqual(
      expect.arrayContaining([
        "completedBrownout",
        "completedBlackout",
        "completedAfter",
        "faults",
        "untranslated",
      ]),
    );
    expect(Object.keys(report.interrupts)).toEqual(expect.arrayContaining(["raised", "delivered", "lost"]));
    expect(JSON.parse(readFileSync(join(out, "report.json"), "utf8"))).toEqual(report);
    expect(readFileSync(join(out, "handover.dtb")).readUInt32BE(0)).toBe(0xd00dfeed);

    // hardware.json: rtaddr and each device's IOVA map; walk memory.img independently and compare.
    const hardware = JSON.parse(readFileSync(join(out, "hardware.json"), "utf8"));
    expect(hardware.iommu.rtaddr).toMatch(/^0x[0-9a-f]+$/);
    expect(BigInt(hardware.iommu.rtaddr) & ~0xfffn).toBe(BigInt(hardware.iommu.rootTable));
    expect(hardware.devices.map((d: { bdf: string }) => d.bdf)).toEqual(["00:04.0", "00:05.0", "00:06.0"]);
    const requests: Array<{ rid: number; pasid: number | null; iova: number }> = [];
    const expected: number[] = [];
    for (const d of hardware.devices as Array<{
      bdf: string;
      pasid: number | null;
      mappings: MappingJson[];
    }>) {
      const [bus, dev, fn] = d.bdf.split(/[:.]/).map((x) => Number.parseInt(x, 16)) as [
        number,
        number,
        number,
      ];
      const rid = (bus << 8) | (dev << 3) | fn;
      for (const m of d.mappings) {
        const length = Number(m.length);
        for (const off of [0, 0x1234, length - 8]) {
          const gpa = Number(m.iova) + off;
          // A vIOMMU guest's device reaches its workload region through its own tables (IOVA = 4 GiB + GPA).
          if (d.pasid !== null && (gpa < 0x40_0000 || gpa >= 0x80_0000)) continue;
          requests.push({ rid, pasid: d.pasid, iova: d.pasid === null ? gpa : 0x1_0000_0000 + gpa });
          expected.push(Number(m.phys) + off);
        }
      }
      if (d.pasid !== null) {
        requests.push({ rid, pasid: d.pasid, iova: 0x1_0000_0000 + 0x40_0000 });
        expected.push(Number(d.mappings[0]!.phys) + 0x40_0000);
      }
    }
    const state = join(out, "iommu-state.json");
    writeFileSync(state, JSON.stringify(hardware.iommu));
    const walked = spawnSync("python3", [walker, join(out, "memory.img"), state], {
      input: JSON.stringify(requests),
      encoding: "utf8",
    });
    expect(walked.stderr).toBe("");
    expect(JSON.parse(walked.stdout)).toEqual(expected);

    const inspect = liveupdate("inspect", out, "--json");
    expect(inspect.status).toBe(0);
    const handover = JSON.parse(inspect.stdout);
    const sessions = handover.subtrees.find((s: { name: string }) => s.name === "luo").detail.sessions;
    expect(sessions.map((s: { name: string }) => s.name)).toEqual(["vm0", "vm1", "vm2"]);
    expect(JSON.stringify(sessions)).toContain("vfio-pci-v1");
    // The drivers' decoders: guestmemfs data extents by file, iommufd domains with their table pages.
    expect(handover.perOwner.map((o: { owner: string }) => o.owner)).toEqual(
      expect.arrayContaining(['guestmemfs "vm0.ram" data', 'guestmemfs "vm2.ram" data']),
    );
    const ctx = sessions[0].files.find((f: { compatible: string }) => f.compatible === "iommufd-v2");
    const domain = ctx.decoded.domains[0];
    expect(domain.tablePages[0]).toBe(domain.top);
    // Every table page the decoder walked is one the object preserved.
    const preserved = new Set(ctx.folios.map((f: { phys: string }) => f.phys));
    for (const page of domain.tablePages) expect(preserved.has(page)).toBe(true);
    const device = sessions[0].files.find((f: { compatible: string }) => f.compatible === "vfio-pci-v1");
    expect(device.decoded).toMatchObject({ bdf: "00:04.0", iommufdToken: "0x2" });
  });

  it("prints a readable summary with a Gantt chart per update", () => {
    const run = liveupdate("demo", ...small, "--updates", "2");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("liveupdate demo: PASS");
    expect(run.stdout.match(/^ {2}update \d: /gm)).toHaveLength(2);
    expect(run.stdout).toMatch(/^ {4}phase +\|b+B+ *\|/m);
    expect(run.stdout).toMatch(/^ {4}vfio-pci +\|[ =#]+\|/m);
  });

  it("exits non-zero on a cancelled update, saying the old kernel is intact", () => {
    const run = liveupdate("demo", ...small, "--fail-at", "freeze");
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("liveupdate demo: FAIL");
    expect(run.stdout).toContain("the old kernel is intact");
    const bad = liveupdate("demo", "--vms", "0");
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("--vms");
  });
});
