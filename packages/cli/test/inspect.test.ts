import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildProgram,
  COUNTER_RING_BUILDS,
  inspectHandover,
  runKhoSelftest,
  writeHandoverArtifacts,
} from "@liveupdate/cli";
import { LiveUpdateHarness } from "@liveupdate/core/testkit";
import { type CounterRing, CounterRingDriver } from "@liveupdate/example-counter-ring";
import { describe, expect, it } from "vitest";
import { captureIo } from "./helpers.js";

const [, cr2] = COUNTER_RING_BUILDS.builds;

/** A directory with the handover of an update of two counter rings (two sessions) and their FLB. */
function ringHandover(): { dir: string; phys: { data: number } } {
  const dir = mkdtempSync(join(tmpdir(), "lu-inspect-"));
  const h = LiveUpdateHarness.boot({ from: cr2!, to: cr2!, memory: "1G" });
  const rings = h.driver(CounterRingDriver);
  const a = rings.create({ capacity: 4 });
  rings.increment(a, 5);
  rings.tick(a);
  rings.increment(a, 3);
  h.preserve(1, a, { session: "vm" });
  const b = rings.create({ capacity: 2 });
  rings.increment(b, 7);
  h.preserve(0x20, b, { session: "vm2" });
  const phys = { data: 0 };
  const result = h.update({
    beforeBoot: (handover, machine) => {
      writeHandoverArtifacts(dir, machine, handover.bootData);
      phys.data = handover.file("vm", 1)!.data;
    },
  });
  expect(result.kernel.driver(CounterRingDriver).read(result.restored<CounterRing>(1, "vm"))).toEqual([5, 3]);
  return { dir, phys };
}

/** Overwrites bytes of a memory image at a physical address (= file offset). */
function patchImage(dir: string, phys: number, bytes: Uint8Array): void {
  const fd = openSync(join(dir, "memory.img"), "r+");
  writeSync(fd, bytes, 0, bytes.length, phys);
  closeSync(fd);
}

describe("liveupdate inspect", () => {
  it("shows LUO sessions, objects with their decoded state and counters, FLBs, and every folio's owner", async () => {
    const { dir } = ringHandover();
    const report = inspectHandover(dir);
    expect(report.problems).toEqual([]);
    expect(report.subtrees.map((s) => [s.name, s.compatible, s.decoded])).toEqual([["luo", "luo-v1", true]]);
    const luo = report.subtrees[0]!.detail as {
      sessions: {
        name: string;
        files: { token: bigint; compatible: string; state: { capacity: number }; decoded: unknown }[];
      }[];
      flbs: { compatible: string; state: unknown }[];
    };
    expect(luo.sessions.map((s) => s.name).sort()).toEqual(["vm", "vm2"]);
    const vm = luo.sessions.find((s) => s.name === "vm")!.files;
    expect(vm).toHaveLength(1);
    expect(vm[0]).toMatchObject({
      token: 1n,
      compatible: "counter-ring-v2",
      state: { capacity: 4, head: 1, tail: 0 },
    });
    expect(vm[0]!.decoded).toMatchObject({ counters: [5, 3], pageListed: true });
    expect(luo.flbs).toMatchObject([
      { compatible: "counter-ring-table-v1", state: { next_id: 3, rings: 2 } },
    ]);
    const owners = report.perOwner.map((o) => o.owner);
    expect(owners).toEqual(
      expect.arrayContaining([
        'luo session "vm" token 0x1 (counter-ring-v2)',
        'luo session "vm2" token 0x20 (counter-ring-v2)',
        "luo FLB counter-ring-table-v1",
        "luo handover (sessions, records)",
        "subtree luo (blob)",
        "kho root FDT",
      ]),
    );
    expect(owners).not.toContain("unclaimed");
    expect(report.perOrder.reduce((n, o) => n + o.folios, 0)).toBe(
      report.perOwner.reduce((n, o) => n + o.folios, 0),
    );

    const { io, captured } = captureIo();
    await buildProgram(io).parseAsync(["inspect", dir], { from: "user" });
    expect(captured.code).toBe(0);
    expect(captured.out).toMatch(/session "vm" \(record 0x[0-9a-f]+, 1 object\(s\)\)/);
    expect(captured.out).toMatch(/token 0x1 {2}counter-ring-v2 {2}record 0x/);
    expect(captured.out).toContain("counters (page 0x");
    expect(captured.out).toContain("FLB counter-ring-table-v1");

    const json = captureIo();
    await buildProgram(json.io).parseAsync(["inspect", dir, "--json"], { from: "user" });
    const parsed = JSON.parse(json.captured.out);
    expect(
      parsed.subtrees[0].detail.sessions.find((s: { name: string }) => s.name === "vm").files[0].token,
    ).toBe("0x1");
    expect(parsed.subtrees[0].lines).toBeUndefined();
  });

  it("reads what kho-selftest --out writes: the kho_test folios are accounted for", () => {
    const dir = mkdtempSync(join(tmpdir(), "lu-inspect-selftest-"));
    runKhoSelftest({ memory: "1G", seed: 3, folios: 24, maxOrder: 6, kexecs: 1, poison: true, outDir: dir });
    const report = inspectHandover(dir);
    expect(report.problems).toEqual([]);
    expect(report.subtrees.map((s) => s.compatible)).toEqual(["kho-test-v1"]);
    expect(report.perOwner).toEqual([
      expect.objectContaining({ owner: "kho_test folios", folios: 24 }),
      expect.objectContaining({ owner: "kho root FDT", folios: 1 }),
      expect.objectContaining({ owner: "subtree kho_test (blob)", folios: 1 }),
    ]);
    const preserved: unknown[] = JSON.parse(readFileSync(join(dir, "preserved.json"), "utf8"));
    expect(report.perOrder.reduce((n, o) => n + o.folios, 0)).toBe(preserved.length);
  });

  it("reports a corrupted memory map as a typed error naming the structure, field and offset, exit 1", async () => {
    const { dir } = ringHandover();
    const chunk = Number.parseInt(inspectHandover(dir).memoryMapChunks[0]!, 16);
    patchImage(dir, chunk + 8, new Uint8Array([99, 0, 0, 0])); // khoser_mem_chunk.order
    const { io, captured } = captureIo();
    await buildProgram(io).parseAsync(["inspect", dir], { from: "user" });
    expect(captured.code).toBe(1);
    expect(captured.err).toContain(
      "inspect: FAIL\n  KHO_CORRUPT_HANDOVER: corrupt KHO handover: khoser_mem_chunk.order",
    );
    expect(captured.err).toContain(`"phys":${chunk}`);
    expect(captured.err).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("reports an object whose state does not decode, and still shows the rest, exit 1", async () => {
    const { dir, phys } = ringHandover();
    patchImage(dir, phys.data + 4, new Uint8Array([0xff, 0xff])); // counter_ring_v2.capacity > 1024
    const report = inspectHandover(dir);
    expect(report.problems).toMatchObject([
      { where: `luo session "vm" token 0x1 (counter-ring-v2): state at 0x${phys.data.toString(16)}` },
    ]);
    expect(report.problems[0]!.code).toMatch(/^SCHEMA_/);
    const { io, captured } = captureIo();
    await buildProgram(io).parseAsync(["inspect", dir], { from: "user" });
    expect(captured.code).toBe(1);
    expect(captured.out).toContain("UNDECODABLE");
    expect(captured.out).toContain('session "vm2"');
    expect(captured.out).toContain("PROBLEMS (1):");
  });

  it("names a missing or malformed input file", async () => {
    const empty = mkdtempSync(join(tmpdir(), "lu-inspect-empty-"));
    const { io, captured } = captureIo();
    await buildProgram(io).parseAsync(["inspect", empty], { from: "user" });
    expect(captured.code).toBe(1);
    expect(captured.err).toContain("CLI_INSPECT_INPUT: memory.img: missing in");
  });

  it("runs as the liveupdate binary without a stack trace on a bad directory", () => {
    const bin = join(import.meta.dirname, "..", "bin", "liveupdate.mjs");
    const run = spawnSync(process.execPath, [bin, "inspect", "/nonexistent-dir"], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("CLI_INSPECT_INPUT");
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
