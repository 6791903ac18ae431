import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildProgram, runKhoSelftest } from "@liveupdate/cli";
import { describe, expect, it } from "vitest";

const small = { memory: "2G", folios: 64, maxOrder: 10, poison: true } as const;

function tool(name: string): string {
  const path = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim();
  if (path === "")
    throw new Error(`${name} is not installed (CI installs device-tree-compiler and python3-libfdt)`);
  return path;
}

describe("liveupdate kho-selftest", () => {
  it.each([1, 2, 3])("passes for seed %i over a chain of 3 kexecs", (seed) => {
    const report = runKhoSelftest({ ...small, seed, kexecs: 3 });
    expect(report.hops).toHaveLength(3);
    expect(report.folios).toBe(64);
    for (const hop of report.hops) expect(hop.metadataBytes).toBeGreaterThan(0);
  });

  it("writes a handover that dtc, fdtdump and libfdt read as kho-v1", () => {
    const dir = mkdtempSync(join(tmpdir(), "lu-selftest-"));
    runKhoSelftest({ ...small, seed: 9, kexecs: 1, outDir: dir });
    const dtb = join(dir, "handover.dtb");

    const dtc = spawnSync(tool("dtc"), ["-I", "dtb", "-O", "dts", dtb], { encoding: "utf8" });
    expect(dtc.status).toBe(0);
    expect(dtc.stderr).toBe("");
    expect(dtc.stdout).toContain('compatible = "kho-v1";');
    expect(dtc.stdout).toMatch(/kho_test \{\s*fdt = </);
    expect(execFileSync(tool("fdtdump"), [dtb], { encoding: "utf8" })).toContain("preserved-memory-map");

    const bootData = JSON.parse(readFileSync(join(dir, "boot-data.json"), "utf8"));
    const preserved: Array<{ phys: string; order: number }> = JSON.parse(
      readFileSync(join(dir, "preserved.json"), "utf8"),
    );
    // The memory map in the image must list exactly the folios the outgoing kernel preserved:
    // walk it with python-libfdt + struct, independently of our reader.
    const script = `
import libfdt, struct, sys, json
img = open(sys.argv[1], 'rb')
fdt = libfdt.Fdt(open(sys.argv[2], 'rb').read())
def rd(addr, n):
    img.seek(addr); return img.read(n)
chunk = struct.unpack('<Q', bytes(fdt.getprop(0, 'preserved-memory-map')))[0]
sub = fdt.subnode_offset(0, 'kho_test')
out = {'subtree': struct.unpack('<Q', bytes(fdt.getprop(sub, 'fdt')))[0], 'folios': []}
while chunk:
    nxt, order, n = struct.unpack('<QII', rd(chunk, 16))
    for i in range(n):
        start, bm = struct.unpack('<QQ', rd(chunk + 16 + 16 * i, 16))
        bits = rd(bm, 512)
        for b in range(4096):
            if bits[b >> 3] & (1 << (b & 7)):
                out['folios'].append([start + (b << (order + 12)), order])
    chunk = nxt
print(json.dumps(out))
`;
    const walked = JSON.parse(
      execFileSync("/usr/bin/python3", ["-c", script, join(dir, "memory.img"), dtb], { encoding: "utf8" }),
    );
    const expected = preserved.map((f) => [Number(f.phys), f.order]).sort((a, b) => a[0]! - b[0]!);
    const actual = (walked.folios as number[][]).sort((a, b) => a[0]! - b[0]!);
    expect(actual).toEqual(expected);
    expect(expected.length).toBe(64 + 2); // data folios, the subtree blob, the root FDT page
    expect(Number(bootData.fdt_size)).toBe(4096);
    // lowmem and node-0 areas; the global one is empty when all kernel memory is below 4 GiB.
    expect(bootData.scratch.length).toBe(2);
    expect(bootData.scratch_size).toBe(16 * bootData.scratch.length);
  });

  it("runs from the command line and reports a failure as a typed error with exit code 1", async () => {
    const out: string[] = [];
    const err: string[] = [];
    let code = 0;
    const io = {
      out: (t: string) => out.push(t),
      err: (t: string) => err.push(t),
      setExitCode: (c: number) => (code = c),
    };
    await buildProgram(io).parseAsync(["kho-selftest", "--memory", "1G", "--folios", "8", "--seed", "4"], {
      from: "user",
    });
    expect(out.join("")).toContain("KHO self-test: PASS");
    expect(code).toBe(0);

    await buildProgram(io).parseAsync(["kho-selftest", "--memory", "256M", "--folios", "2000"], {
      from: "user",
    });
    expect(code).toBe(1);
    expect(err.join("")).toMatch(/FAIL\n {2}KERNEL_OOM/);
  });
});
