import "reflect-metadata";
import { container } from "tsyringe";
import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "../../src/hw/units.js";
import {
  assertDriverConformance,
  CONFORMANCE_CHECKS,
  type ConformanceReport,
  DriverConformanceError,
  formatConformanceReport,
  verifyDriverConformance,
} from "../../src/testkit/index.js";
import { Counter, CounterDriver, CounterDriverReset, Probe } from "../luo/fixtures.js";
import {
  BadMigratorBlobDriver,
  type Blob,
  BlobDriver,
  blobOptions,
  CrashyBlobDriver,
  ForgetfulBlobDriver,
  LeakyBlobDriver,
  ResetBlobDriver,
  StickyBlobDriver,
  TwoVersionBlobDriver,
  TwoVersionBlobDriverV1,
  UntrackedBlobDriver,
  VirtualBlobDriver,
} from "./drivers.js";

const statusOf = (report: ConformanceReport) =>
  Object.fromEntries(report.checks.map((c) => [c.name, c.status]));
const failuresOf = (report: ConformanceReport, name: string) =>
  report.checks.find((c) => c.name === name)!.failures.map((f) => f.message);

function counterOptions() {
  const parent = container.createChildContainer();
  parent.registerInstance(Probe, new Probe());
  return {
    container: parent,
    createObject: (_lk: unknown, rng: { int(a: number, b: number): number }, driver: CounterDriver) =>
      driver.create(rng.int(0, 1000)),
    snapshot: (c: Counter, lk: { machine: { memory: { read(p: number, n: number): Uint8Array } } }) => ({
      value: c.value,
      bytes: lk.machine.memory.read(c.page, PAGE_SIZE),
    }),
    assertRestored: (
      _o: Counter,
      r: Counter,
      ctx: {
        snapshot: { value: number; bytes: Uint8Array } | undefined;
        kernel: { machine: { memory: { read(p: number, n: number): Uint8Array } } };
      },
    ) => {
      expect(r).toBeInstanceOf(Counter);
      expect(r.value).toBe(ctx.snapshot!.value);
      expect(ctx.kernel.machine.memory.read(r.page, PAGE_SIZE)).toEqual(ctx.snapshot!.bytes);
    },
    brownout: (c: Counter, _lk: unknown, driver: CounterDriver) => driver.increment(c),
  };
}

describe("verifyDriverConformance on correct drivers", () => {
  it("passes a multi-version driver with an FLB (the LUO fixtures' counter driver)", () => {
    const report = assertDriverConformance(CounterDriver, counterOptions());
    expect(statusOf(report)).toEqual(Object.fromEntries(CONFORMANCE_CHECKS.map((c) => [c, "passed"])));
    expect(report.driver).toBe("counter");
    expect(report.pairs.map((p) => [p.outcome, p.version])).toEqual([
      ["restored", 1],
      ["restored", 1],
    ]);
    expect(report.trials).toHaveLength(48);
    expect(report.durationMs).toBeLessThan(20_000);
  });

  it("passes a single-version driver, with the abort and the reset restore policy", () => {
    for (const Driver of [BlobDriver, ResetBlobDriver]) {
      const report = assertDriverConformance(Driver, blobOptions());
      expect(report.checks.find((c) => c.name === "version-pairs")!.summary).toMatch(/single version/);
      expect(report.checks.find((c) => c.name === "migrator-laws")!.summary).toMatch(/no migrators/);
    }
  });

  it("runs version pairs both ways with a peer release, retrying objects a down-migration refuses", () => {
    const report = assertDriverConformance(TwoVersionBlobDriver, {
      ...blobOptions(),
      checks: ["version-pairs"],
      peers: [TwoVersionBlobDriverV1],
    });
    const pairs = report.pairs.map((p) => `${p.writer} → ${p.reader}: ${p.outcome} v${p.version}`);
    expect(pairs).toEqual([
      "TwoVersionBlobDriver → TwoVersionBlobDriver[native v1]: restored v1",
      "TwoVersionBlobDriver[native v1] → TwoVersionBlobDriver: restored v1",
      "TwoVersionBlobDriver → TwoVersionBlobDriverV1: restored v1",
      "TwoVersionBlobDriverV1 → TwoVersionBlobDriver: restored v1",
    ]);
    // Some object sets carried a value v1 cannot express: refused with a typed error, then retried.
    expect(report.pairs.some((p) => p.detail.includes("refused"))).toBe(true);
  });

  it("predicts the new kernel's reaction to hundreds of corrupted handovers (oracle agreement)", () => {
    for (const Driver of [CounterDriver, CounterDriverReset]) {
      const report = verifyDriverConformance(Driver, {
        ...counterOptions(),
        checks: ["corruption"],
        objects: 3,
        seed: 5,
        corruption: { trials: 120 },
      });
      expect(failuresOf(report, "corruption")).toEqual([]);
      const outcomes = new Set(
        report.trials.flatMap((t) => t.objects.map((o) => `${o.expected}→${o.actual}`)),
      );
      expect(outcomes).toContain("reject→rejected");
      expect(outcomes).toContain("intact→intact");
      expect([...outcomes].some((o) => o.startsWith("value→"))).toBe(true);
      expect(new Set(report.trials.map((t) => t.kind))).toEqual(
        new Set(["bit-flip", "truncation", "pointer", "compatible"]),
      );
    }
  });

  it("replays one trial and honours checks / skip", () => {
    const all = verifyDriverConformance(BlobDriver, {
      ...blobOptions(),
      checks: ["corruption"],
      corruption: { trials: 8 },
    });
    const one = verifyDriverConformance(BlobDriver, {
      ...blobOptions(),
      checks: ["corruption"],
      corruption: { trials: 8, only: [5] },
    });
    expect(one.trials).toEqual([all.trials[5]]);
    const skipped = verifyDriverConformance(BlobDriver, {
      ...blobOptions(),
      skip: ["corruption", "cancel", "poison"],
    });
    expect(statusOf(skipped)).toMatchObject({
      corruption: "skipped",
      cancel: "skipped",
      poison: "skipped",
      update: "passed",
    });
  });
});

describe("verifyDriverConformance catches broken drivers", () => {
  it("a forgotten preservation: passes without poisoning, fails with it, and says why", () => {
    const report = verifyDriverConformance(ForgetfulBlobDriver, {
      ...blobOptions(),
      checks: ["update", "poison"],
    });
    expect(statusOf(report)).toMatchObject({ update: "passed", poison: "failed" });
    expect(failuresOf(report, "poison")[0]).toMatch(/depends on memory that was not preserved/);
    expect(failuresOf(report, "poison")[1]).toMatch(
      /token 1 is not restored intact on a kernel that poisoned/,
    );
  });

  it("a virtual address in the serialized state, naming the field", () => {
    const report = verifyDriverConformance(VirtualBlobDriver, {
      ...blobOptions(),
      checks: ["virtual-addresses"],
    });
    expect(statusOf(report)["virtual-addresses"]).toBe("failed");
    const failures = failuresOf(report, "virtual-addresses");
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatch(
      /session "conformance" token 1 serialized state \(blob-v1\) at 0x[0-9a-f]+ \(field cookie\) holds 0xffff/,
    );
    expect(failures[0]).toMatch(
      /looks like a direct-map virtual address of the old boot \(its __va\(0x[0-9a-f]+\)\)/,
    );
  });

  it("a cancel that leaves device memory changed", () => {
    const report = verifyDriverConformance(StickyBlobDriver, { ...blobOptions(), checks: ["cancel"] });
    const failures = failuresOf(report, "cancel");
    expect(failures[0]).toMatch(
      /^cancel in PREPARED: page 0x[0-9a-f]+ changed: first difference at \+0x64 \(0x[0-9a-f]+ → 0xee\)/,
    );
    expect(failures.some((f) => f.startsWith("cancel in PREPARED: token 1 is not intact"))).toBe(true);
  });

  it("a prepare hook that leaks memory", () => {
    const report = verifyDriverConformance(LeakyBlobDriver, { ...blobOptions(), checks: ["cancel"] });
    expect(failuresOf(report, "cancel")).toContain(
      "cancel in PREPARED: 8192 bytes of memory were allocated and not freed (leak)",
    );
  });

  it("a restore hook that crashes (TypeError) on a corrupted but well-formed state", () => {
    const report = verifyDriverConformance(CrashyBlobDriver, {
      ...blobOptions(),
      checks: ["corruption"],
      corruption: { trials: 64 },
    });
    const failures = failuresOf(report, "corruption");
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatch(
      /the restore failed with an untyped exception .* got crash: untyped failure: TypeError/,
    );
  });

  it("broken migrator laws", () => {
    const report = verifyDriverConformance(BadMigratorBlobDriver, {
      ...blobOptions(),
      checks: ["migrator-laws"],
    });
    expect(failuresOf(report, "migrator-laws")[0]).toMatch(/badblob v1↔v2: down\(up\(x\)\) = x fails for/);
  });

  it("a brownout change that is not dirty-tracked", () => {
    const report = verifyDriverConformance(UntrackedBlobDriver, {
      ...blobOptions({
        brownout: (blob: Blob, _lk, driver) => (driver as UntrackedBlobDriver).touch(blob),
      }),
      checks: ["update"],
    });
    const failures = failuresOf(report, "update");
    expect(failures[0]).toMatch(/not tracked as dirty: is the operation a @PhaseGuard/);
    expect(failures[1]).toMatch(/token 1 is not restored intact/);
  });

  it("assertDriverConformance throws one readable error listing every failed check", () => {
    let error: unknown;
    try {
      assertDriverConformance(ForgetfulBlobDriver, {
        ...blobOptions(),
        checks: ["update", "poison", "cancel"],
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DriverConformanceError);
    const e = error as DriverConformanceError;
    expect(e.code).toBe("TESTKIT_CONFORMANCE_FAILED");
    expect(e.message).toMatch(
      /^blob \(ForgetfulBlobDriver\) fails \d of 3 conformance checks \(seed 1, \d+ ms\)/,
    );
    expect(e.message).toContain("✗ poison:");
    expect(e.message).toContain("✓ update:");
    expect(e.report.checks).toHaveLength(CONFORMANCE_CHECKS.length);
    expect(formatConformanceReport(e.report as ConformanceReport, { verbose: true })).toContain(
      "· negotiated blob-v1",
    );
  });

  it("refuses a class that is not a driver", () => {
    class NotADriver {}
    expect(() => verifyDriverConformance(NotADriver, blobOptions() as never)).toThrow(DriverConformanceError);
  });
});
