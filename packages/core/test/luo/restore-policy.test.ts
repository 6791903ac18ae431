import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "../../src/hw/units.js";
import { defineKernelBuild, type KernelBuild } from "../../src/kernel/build.js";
import {
  LuoFolioNotOwnedError,
  LuoHandoverCorruptError,
  LuoObjectResetError,
  LuoRestoreAbortedError,
} from "../../src/luo/errors.js";
import { LuoFileV1 } from "../../src/luo/handover-schema.js";
import {
  BridgeDriver,
  type Counter,
  CounterDriver,
  CounterDriverReset,
  type World,
  world,
} from "./fixtures.js";
import { luoHandover, offsetOf } from "./handover-raw.js";

/** Preserves two counters (tokens 1, 2) and reboots into `target` without booting it yet. */
function rebootWithCounters(
  w: World,
  running: KernelBuild,
  target: KernelBuild,
  Driver: typeof CounterDriver,
) {
  const a = w.boot(running);
  const counters = a.driver(Driver);
  const c1 = counters.create(1);
  const c2 = counters.create(2);
  const s = a.luo.createSession("vm");
  s.preserve(1, c1);
  s.preserve(2, c2);
  a.kernel.kexecLoad(target);
  const handoff = a.luo.reboot();
  const boot = (build: KernelBuild = handoff.build) =>
    w.boot(build, { bootData: handoff.bootData!, cmdline: handoff.cmdline, seed: 3 });
  return { a, c1, c2, handoff, boot, raw: luoHandover(w.machine, handoff.bootData!) };
}

const resetBuild = defineKernelBuild({ version: "reset", drivers: [CounterDriverReset] });
const abortBuild = defineKernelBuild({ version: "abort", drivers: [CounterDriver] });

describe("restore policies", () => {
  it("reset: drops an object whose state is invalid, releases its memory and reports it", () => {
    const w = world("512M");
    const { c1, c2, boot, raw } = rebootWithCounters(w, resetBuild, resetBuild, CounterDriverReset);
    // The state of token 1 names a page that was never preserved for it.
    w.machine.memory.writeU64(raw.data(0, 0), 0x10_0000n);
    const b = boot();
    // The handover itself is valid: restore is lazy, the bad state is found when retrieved.
    expect(b.luo.resets).toHaveLength(0);
    const vm = b.luo.retrieveSession("vm");
    expect(vm.status(1)).toBe("pending");
    expect(() => vm.retrieve(1)).toThrow(LuoObjectResetError);
    expect(b.luo.resets).toHaveLength(1);
    const report = b.luo.resets[0]!;
    expect(report).toMatchObject({
      driver: "counter",
      session: "vm",
      token: 1n,
      compatible: "counter-v2",
      code: "LUO_FOLIO_NOT_OWNED",
    });
    expect(report.releasedBytes).toBe(2 * PAGE_SIZE); // its state page and its own page
    expect(b.kernel.isInUse(c1.page, PAGE_SIZE)).toBe(false);
    expect(b.timeline.events.some((e) => e.kind === "reset")).toBe(true);
    expect(() => vm.retrieve(1)).toThrow(LuoObjectResetError);
    expect(vm.status(1)).toBe("reset");
    expect((vm.retrieve(2) as Counter).page).toBe(c2.page);
    vm.finish();
    expect(b.luo.phase).toBe("NORMAL");
  });

  it("abort: the same corruption fails the retrieve loudly, naming driver, session and token", () => {
    const w = world("512M");
    const { c1, boot, raw } = rebootWithCounters(w, abortBuild, abortBuild, CounterDriver);
    w.machine.memory.writeU64(raw.data(0, 1), 0x10_0000n);
    const b = boot();
    const vm = b.luo.retrieveSession("vm");
    let error: unknown;
    try {
      vm.retrieve(2);
    } catch (e) {
      error = e;
    }
    // The kernel cannot panic retroactively from a userspace call: retrieve returns the error.
    expect(error).toBeInstanceOf(LuoRestoreAbortedError);
    expect((error as LuoRestoreAbortedError).context).toMatchObject({
      driver: "counter",
      session: "vm",
      token: 2n,
      at: "retrieve",
    });
    expect((error as LuoRestoreAbortedError).cause).toBeInstanceOf(LuoFolioNotOwnedError);
    expect(vm.status(2)).toBe("failed");
    expect(() => vm.retrieve(2)).toThrow(error as Error);
    expect(b.luo.resets).toHaveLength(0);
    expect((vm.retrieve(1) as Counter).page).toBe(c1.page);
    // Finish goes on; the failed object's memory stays reserved (a warning says so).
    vm.finish();
    expect(b.luo.phase).toBe("NORMAL");
    expect(b.timeline.events.some((e) => e.kind === "warning" && /failed object/.test(e.message))).toBe(true);
  });

  it("abort: a handover invalid for an object still fails the boot", () => {
    const w = world("512M");
    const { boot, raw } = rebootWithCounters(w, abortBuild, abortBuild, CounterDriver);
    w.machine.memory.writeU64(raw.file(0, 1) + offsetOf(LuoFileV1, "data"), 1n << 60n);
    let error: unknown;
    try {
      boot();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LuoRestoreAbortedError);
    expect((error as LuoRestoreAbortedError).context).toMatchObject({ session: "vm", token: 2n });
    expect((error as LuoRestoreAbortedError).cause).toBeInstanceOf(LuoHandoverCorruptError);
    // Like a panic: the failed kernel is gone and the machine can be cold booted again.
    const cold = w.boot(abortBuild);
    expect(cold.kernel.bootId).toBe(3);
    expect(cold.luo.phase).toBe("NORMAL");
  });

  it("finish restores objects never retrieved, then finishes them (restore-then-finish)", () => {
    const w = world("512M");
    const { boot } = rebootWithCounters(w, resetBuild, resetBuild, CounterDriverReset);
    const b = boot();
    const vm = b.luo.retrieveSession("vm");
    expect(vm.retrieve(1)).toBeDefined();
    expect(vm.status(2)).toBe("pending");
    expect(b.luo.markResumed()).toBe(true);
    expect(b.luo.markResumed()).toBe(false);
    vm.finish();
    expect(vm.status(2)).toBe("finished");
    expect(w.probe.log.filter((l) => /^counter\.(restore|finish):2$/.test(l))).toEqual([
      "counter.restore:2",
      "counter.finish:2",
    ]);
    expect(b.kho.incoming!.restoredCount).toBe(b.kho.incoming!.preservedCount);
    const resumed = b.timeline.events.find((e) => e.kind === "resumed");
    expect(resumed).toMatchObject({ restored: 1, pending: 1 });
    expect(b.timeline.summary().blackoutEnd).toBe("resumed");
  });

  it("uses the policy recorded by the old kernel when the new build has no handler", () => {
    const other = defineKernelBuild({ version: "other", drivers: [BridgeDriver, CounterDriverReset] });
    const noCounter = defineKernelBuild({ version: "no-counter", drivers: [] });
    const w = world("512M");
    const { boot } = rebootWithCounters(w, resetBuild, other, CounterDriverReset);
    const b = boot(noCounter);
    expect(b.luo.resets.map((r) => [r.compatible, r.code])).toEqual([
      ["counter-v2", "LUO_NO_HANDLER"],
      ["counter-v2", "LUO_NO_HANDLER"],
      ["counter-table-v1", "LUO_FLB_UNUSED"],
    ]);
    expect(b.luo.resets.every((r) => r.releasedBytes > 0)).toBe(true);

    const w2 = world("512M");
    const strict = rebootWithCounters(w2, abortBuild, abortBuild, CounterDriver);
    expect(() => strict.boot(noCounter)).toThrow(LuoRestoreAbortedError);
  });

  it("an FLB that cannot be restored takes its users down with it (per their policy)", () => {
    const w = world("512M");
    const { boot, raw } = rebootWithCounters(w, resetBuild, resetBuild, CounterDriverReset);
    // flbs[0].data = 0
    w.machine.memory.writeU64(raw.flbs + 48, 0n);
    const b = boot();
    expect(b.luo.resets.map((r) => [r.driver, r.token, r.code])).toEqual([
      ["counter-table", undefined, "LUO_HANDOVER_CORRUPT"],
      ["counter", 1n, "LUO_FLB_UNAVAILABLE"],
      ["counter", 2n, "LUO_FLB_UNAVAILABLE"],
    ]);
    expect(b.luo.phase).toBe("UPDATED");
    b.luo.retrieveSession("vm").finish();
    expect(b.luo.phase).toBe("NORMAL");
  });
});

describe("restore trusts nothing", () => {
  it("rejects a corrupt orchestrator handover with a typed error", () => {
    const w = world("512M");
    const { boot, raw } = rebootWithCounters(w, resetBuild, resetBuild, CounterDriverReset);
    w.machine.memory.writeU32(raw.header, 0xffff_ffff); // nr_sessions
    expect(() => boot()).toThrow(LuoHandoverCorruptError);
  });

  it("refuses folios an object lists but never preserved, and folios claimed twice", () => {
    const w = world("512M");
    const { boot, raw } = rebootWithCounters(w, resetBuild, resetBuild, CounterDriverReset);
    const memory = w.machine.memory;
    const folios = (f: number) => Number(memory.readU64(raw.file(0, f) + offsetOf(LuoFileV1, "folios")));
    // Token 1's first folio: claim token 2's first folio instead (both objects become invalid).
    memory.writeU64(folios(0), memory.readU64(folios(1)));
    const b = boot();
    expect(b.luo.resets.map((r) => [r.token, r.code])).toEqual([
      [1n, "LUO_HANDOVER_CORRUPT"],
      [2n, "LUO_HANDOVER_CORRUPT"],
      // Both users are gone before the FLB was ever needed: it is released, never restored.
      [undefined, "LUO_FLB_UNUSED"],
    ]);
  });

  it("refuses an object whose folios overlap the orchestrator's own (restored and freed) memory", () => {
    const w = world("512M");
    const { boot, raw, c2 } = rebootWithCounters(w, resetBuild, resetBuild, CounterDriverReset);
    const memory = w.machine.memory;
    const luoPage = raw.header - (raw.header % PAGE_SIZE);
    const folios = Number(memory.readU64(raw.file(0, 0) + offsetOf(LuoFileV1, "folios")));
    // Token 1 lists the page holding the orchestrator's header as its data folio and points into it.
    memory.writeU64(folios, BigInt(luoPage));
    memory.writeU64(raw.file(0, 0) + offsetOf(LuoFileV1, "data"), BigInt(raw.header));
    const b = boot();
    expect(b.luo.resets).toHaveLength(1);
    expect(b.luo.resets[0]).toMatchObject({ token: 1n, code: "LUO_HANDOVER_CORRUPT" });
    expect(b.luo.resets[0]!.reason).toMatch(/orchestrator's own handover memory/);
    expect((b.luo.retrieveSession("vm").retrieve(2) as Counter).page).toBe(c2.page);
  });

  it("reports a data pointer beyond 2^53 as out of range", () => {
    const w = world("512M");
    const { boot, raw } = rebootWithCounters(w, resetBuild, resetBuild, CounterDriverReset);
    w.machine.memory.writeU64(raw.file(0, 0) + offsetOf(LuoFileV1, "data"), 1n << 60n);
    const b = boot();
    expect(b.luo.resets[0]).toMatchObject({ token: 1n, code: "LUO_HANDOVER_CORRUPT" });
    expect(b.luo.resets[0]!.reason).toMatch(/out of range/);
  });

  it("keeps a restore from taking memory listed for another object", () => {
    const w = world("512M");
    const { boot, raw, c2 } = rebootWithCounters(w, resetBuild, resetBuild, CounterDriverReset);
    // Token 1's state points at token 2's page.
    w.machine.memory.writeU64(raw.data(0, 0), BigInt(c2.page));
    const b = boot();
    const vm = b.luo.retrieveSession("vm");
    expect(() => vm.retrieve(1)).toThrow(LuoObjectResetError);
    expect(b.luo.resets[0]).toMatchObject({ token: 1n, code: "LUO_FOLIO_NOT_OWNED" });
    expect((vm.retrieve(2) as Counter).page).toBe(c2.page);
  });
});
