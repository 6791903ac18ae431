import { describe, expect, it } from "vitest";
import { defineKernelBuild } from "../../src/kernel/build.js";
import { KernelGoneError } from "../../src/kernel/errors.js";
import { POISON_BYTE } from "../../src/kernel/kernel.js";
import { kexecIntoNext } from "../../src/luo/boot.js";
import {
  LuoHookFailedError,
  LuoNegotiationRefusedError,
  LuoNoTargetError,
  LuoOperationRefusedError,
  LuoTargetChangedError,
} from "../../src/luo/errors.js";
import { LUO_SUBTREE } from "../../src/luo/handover-schema.js";
import { LUO_TRANSITIONS, type LuoTransition } from "../../src/luo/phase.js";
import { NegotiationNoCommonVersionError } from "../../src/schema/catalog/index.js";
import {
  Bridge,
  BridgeDriver,
  buildA,
  buildB,
  Counter,
  CounterDriver,
  CounterDriverStrict,
  CounterDriverV1,
  CounterDriverV2Only,
  CounterTable,
  pageBytes,
  pattern,
  populate,
  world,
} from "./fixtures.js";

describe("a live update through an actual kexec", () => {
  it("hands sessions, objects and the FLB over, with poisoning on, in dependency order", () => {
    const w = world();
    const a = w.boot(buildA);
    const { c1, c2, b3, counters } = populate(a);
    const free = a.kernel.allocPages(0);
    a.machine.memory.fill(free, 4096, 0x33);
    const before = { c1: pageBytes(a, c1.page), c2: pageBytes(a, c2.page), b3: pageBytes(a, b3.page) };
    counters.table.generation = 7;

    const b = kexecIntoNext(a, { build: buildB, seed: 2 });

    // Unpreserved memory was poisoned; the old kernel and its drivers are gone.
    expect(a.machine.memory.readU8(free)).toBe(POISON_BYTE);
    expect(() => counters.create()).toThrow(KernelGoneError);
    expect(() => a.luo.createSession("x")).toThrow(KernelGoneError);
    expect(b.kernel.bootId).toBe(2);

    // Order: providers (FLB, counter) prepare before the consumer (bridge); consumers freeze first.
    const log = w.probe.log;
    const idx = (p: string) => log.indexOf(p);
    expect(idx("counter-table.prepare")).toBeLessThan(idx("counter.prepare:1"));
    expect(idx("counter.prepare:2")).toBeLessThan(idx("bridge.prepare:3"));
    expect(idx("bridge.freeze:3")).toBeLessThan(idx("counter.freeze:1"));
    expect(idx("counter.freeze:1")).toBeLessThan(idx("counter-table.freeze"));
    // Restore is lazy: nothing is restored before it is retrieved.
    expect(idx("counter-table.restore")).toBe(-1);
    expect(b.luo.phase).toBe("UPDATED");
    const session = b.luo.retrieveSession("vm");
    expect(session.status(1)).toBe("pending");
    // Retrieving the consumer first restores the pending objects of its providers in the session.
    const r3 = session.retrieve(3) as Bridge;
    expect(session.status(1)).toBe("restored");
    const r1 = session.retrieve(1) as Counter;
    const r2 = session.retrieve(2) as Counter;
    expect(idx("counter-table.restore")).toBeGreaterThan(-1);
    expect(idx("counter-table.restore")).toBeLessThan(idx("counter.restore:1"));
    expect(idx("counter.restore:2")).toBeLessThan(idx("bridge.restore:3"));
    expect(session.retrieve(1)).toBe(r1);
    expect(r1).toBeInstanceOf(Counter);
    expect(r1.value).toBe(5);
    expect(r2.value).toBe(9);
    expect(r3.counter).toBe(r2);
    expect(pageBytes(b, r1.page)).toEqual(before.c1);
    expect(pageBytes(b, r2.page)).toEqual(before.c2);
    expect(pageBytes(b, r3.page)).toEqual(before.b3);
    const table = b.driver(CounterTable);
    expect(table.restoredFrom).toBe(7);
    expect(b.kho.incoming?.subtreeNames()).toContain(LUO_SUBTREE);
    // The orchestrator's data pages (its encoding of each object) are freed once the VMs resumed,
    // outside the blackout: until then they are the only preserved folios not restored.
    const dataPages = b.kho.incoming!.preservedCount - b.kho.incoming!.restoredCount;
    expect(dataPages).toBe(4);
    expect(b.luo.markResumed()).toBe(true);
    // Every preserved folio has an owner again: the drivers restored theirs, the orchestrator
    // restored and freed its data pages and its own handover.
    expect(b.kho.incoming!.restoredCount).toBe(b.kho.incoming!.preservedCount);

    // The orchestrator's data pages were released after restore: only the drivers' own folios stay.
    session.finish();
    expect(b.luo.phase).toBe("NORMAL");
    expect(w.probe.log.slice(-4)).toEqual([
      "bridge.finish:3",
      "counter.finish:2",
      "counter.finish:1",
      "counter-table.finish",
    ]);

    const summary = b.timeline.summary();
    expect(summary.brownoutNs).toBeGreaterThanOrEqual(0);
    expect(summary.blackoutNs).toBeGreaterThan(0);
    expect(summary.handoverBytes).toBeGreaterThan(0);
    expect(summary.perDriver.map((d) => d.driver)).toEqual(["bridge", "counter", "counter-table"]);
    expect(summary.perObject).toHaveLength(3);
    expect(summary.perDriver.find((d) => d.driver === "counter")!.preservedBytes).toBe(2 * 4096);
  });

  it("chains two updates and downgrades to a build that only reads v1 (negotiated down-migration)", () => {
    const w = world();
    const a = w.boot(buildA);
    const { c1 } = populate(a);
    const old = defineKernelBuild({ version: "6.15-old", drivers: [CounterDriverV1, BridgeDriver] });
    const b = kexecIntoNext(a, { build: old });
    const negotiated = b.timeline.events.filter((e) => e.kind === "negotiated");
    expect(negotiated.at(-1)).toMatchObject({
      drivers: expect.arrayContaining([{ driver: "counter", version: 1, compatible: "counter-v1" }]),
    });
    const s = b.luo.retrieveSession("vm");
    expect((s.retrieve(1) as Counter).value).toBe(5);
    expect((s.retrieve(1) as Counter).page).toBe(c1.page);
    s.finish();
    // And back up again.
    const counter = s.retrieve(1) as Counter;
    b.luo.createSession("vm2").preserve(10, counter);
    const c = kexecIntoNext(b, { build: buildA });
    expect((c.luo.retrieveSession("vm2").retrieve(10) as Counter).value).toBe(5);
  });

  it("refuses an update with no common version before PREPARED completes, touching nothing", () => {
    const w = world();
    const old = defineKernelBuild({ version: "old", drivers: [CounterDriverV1, BridgeDriver] });
    const a = w.boot(old);
    const { c1 } = populate(a, CounterDriverV1);
    const preserved = [...a.kho.outgoing.preservedFolios()];
    a.kernel.kexecLoad(defineKernelBuild({ version: "new", drivers: [CounterDriverV2Only, BridgeDriver] }));
    const error = (() => {
      try {
        a.luo.prepare();
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(LuoNegotiationRefusedError);
    expect((error as LuoNegotiationRefusedError).cause).toBeInstanceOf(NegotiationNoCommonVersionError);
    expect((error as LuoNegotiationRefusedError).context).toMatchObject({
      driver: "counter",
      writable: [1],
      readable: [2],
    });
    expect(a.luo.phase).toBe("NORMAL");
    expect(w.probe.log.filter((l) => l.includes("prepare"))).toEqual([]);
    expect([...a.kho.outgoing.preservedFolios()]).toEqual(preserved);
    expect(a.luo.session("vm")!.object(1)).toBe(c1);
  });

  it("needs a kexec-loaded target to prepare", () => {
    const w = world();
    const a = w.boot(buildA);
    populate(a);
    expect(() => a.luo.prepare()).toThrow(LuoNoTargetError);
    a.kernel.kexecLoad(buildB);
    a.luo.prepare();
    a.luo.cancel();
    expect(a.luo.phase).toBe("NORMAL");
  });

  it("enters blackout from a plain reboot during brownout (FROZEN entered from reboot)", () => {
    const w = world();
    const a = w.boot(buildA);
    populate(a);
    a.kernel.kexecLoad(buildB);
    a.luo.prepare();
    const handoff = a.kernel.reboot();
    expect(a.kernel.stage).toBe("gone");
    expect(handoff.bootData).toBeDefined();
    const b = w.boot(buildB, { bootData: handoff.bootData! });
    expect(b.luo.phase).toBe("UPDATED");
    expect(b.luo.retrieveSession("vm").tokens().length).toBeGreaterThan(0);
  });

  describe("refuses a kexec-loaded target changed after negotiation (cancels, kernel keeps running)", () => {
    const other = defineKernelBuild({ version: "6.16.0-c", drivers: [CounterDriverV1, BridgeDriver] });
    const setup = () => {
      const w = world();
      const a = w.boot(buildA);
      const { c1 } = populate(a);
      const preserved = [...a.kho.outgoing.preservedFolios()];
      a.kernel.kexecLoad(buildB);
      a.luo.prepare();
      return { w, a, c1, preserved };
    };
    const expectCancelled = (ctx: ReturnType<typeof setup>, error: unknown) => {
      expect(error).toBeInstanceOf(LuoTargetChangedError);
      expect((error as LuoTargetChangedError).code).toBe("LUO_TARGET_CHANGED");
      expect((error as LuoTargetChangedError).errno).toBe("EINVAL");
      expect(ctx.a.kernel.stage).toBe("running");
      expect(ctx.a.luo.phase).toBe("NORMAL");
      expect([...ctx.a.kho.outgoing.preservedFolios()]).toEqual(ctx.preserved);
      expect(ctx.a.luo.session("vm")!.object(1)).toBe(ctx.c1);
    };
    const thrown = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (e) {
        return e;
      }
      return undefined;
    };

    it("at freeze", () => {
      const ctx = setup();
      ctx.a.kernel.kexecLoad(other);
      expectCancelled(
        ctx,
        thrown(() => ctx.a.luo.freeze()),
      );
    });

    it("at luo.reboot() from PREPARED and from FROZEN", () => {
      const ctx = setup();
      ctx.a.kernel.kexecLoad(other);
      expectCancelled(
        ctx,
        thrown(() => ctx.a.luo.reboot()),
      );
      const again = setup();
      again.a.luo.freeze();
      again.a.kernel.kexecLoad(other);
      expectCancelled(
        again,
        thrown(() => again.a.luo.reboot()),
      );
    });

    it("at kernel.reboot() in PREPARED (LUO freezes there) and in FROZEN", () => {
      const ctx = setup();
      ctx.a.kernel.kexecLoad(other);
      expectCancelled(
        ctx,
        thrown(() => ctx.a.kernel.reboot()),
      );
      const again = setup();
      again.a.luo.freeze();
      again.a.kernel.kexecLoad(other);
      expectCancelled(
        again,
        thrown(() => again.a.kernel.reboot()),
      );
    });

    it("compares the build object, not its version, and also catches an unload", () => {
      const ctx = setup();
      ctx.a.kernel.kexecLoad(
        defineKernelBuild({ version: buildB.version, drivers: [CounterDriverV1, BridgeDriver] }),
      );
      expectCancelled(
        ctx,
        thrown(() => ctx.a.luo.freeze()),
      );
      const again = setup();
      again.a.kernel.kexecUnload();
      expectCancelled(
        again,
        thrown(() => again.a.luo.freeze()),
      );
      // Loading the same build again is fine.
      const same = setup();
      same.a.kernel.kexecLoad(buildB);
      same.a.luo.freeze();
      expect(same.a.luo.phase).toBe("FROZEN");
    });
  });

  it("only makes phase transitions listed in LUO_TRANSITIONS", () => {
    const w = world();
    const a = w.boot(buildA);
    populate(a);
    a.kernel.kexecLoad(buildB);
    a.luo.prepare();
    a.luo.cancel();
    const b = kexecIntoNext(a, { build: buildB });
    b.luo.finish();
    const phases =
      w.machine && [...a.timeline.events, ...b.timeline.events].filter((e) => e.kind === "phase");
    expect(phases.length).toBeGreaterThanOrEqual(5);
    for (const e of phases) {
      const { from, to, via } = e as unknown as LuoTransition;
      expect(LUO_TRANSITIONS).toContainEqual({ from, to, via });
    }
  });

  it("keeps the kernel running when the freeze triggered by reboot fails", () => {
    const w = world();
    const a = w.boot(buildA);
    populate(a);
    a.kernel.kexecLoad(buildB);
    a.luo.prepare();
    w.probe.faults.add("counter.freeze:1");
    expect(() => a.kernel.reboot()).toThrow(LuoHookFailedError);
    expect(a.kernel.stage).toBe("running");
    expect(a.luo.phase).toBe("NORMAL");
  });

  it("serializes at freeze in strict mode and re-serializes dirty objects in relaxed mode", () => {
    const w = world();
    const strictBuild = defineKernelBuild({ version: "strict", drivers: [CounterDriverStrict] });
    const a = w.boot(strictBuild);
    const counters = a.driver(CounterDriverStrict);
    const c = counters.create(1);
    a.luo.createSession("s").preserve(1, c);
    a.kernel.kexecLoad(strictBuild);
    a.luo.prepare();
    expect(w.probe.log).not.toContain("counter.serialize:1");
    const report = a.luo.freeze();
    expect(report.serializedAtFreeze).toBe(1); // the counter (its FLB serializes at prepare)
    a.luo.cancel();

    const w2 = world();
    const r = w2.boot(buildA);
    const { c1, c2, counters: relaxed } = populate(r);
    r.kernel.kexecLoad(buildB);
    r.luo.prepare();
    relaxed.increment(c1); // brownout: allowed, dirty
    expect(() => relaxed.relabel(c2, 3)).toThrow(LuoOperationRefusedError);
    const freeze = r.luo.freeze();
    expect(freeze.serializedAtFreeze).toBe(1);
    expect(w2.probe.log.filter((l) => l === "counter.serialize:1")).toHaveLength(2);
    expect(() => relaxed.increment(c1)).toThrow(LuoOperationRefusedError); // blackout
    const next = kexecIntoNext(r);
    expect((next.luo.retrieveSession("vm").retrieve(1) as Counter).value).toBe(6);
    expect(r.timeline.events.some((e) => e.kind === "dirty" && e.token === 1n)).toBe(true);
  });

  it("wraps a failing encode (a value the schema refuses) and cancels", () => {
    const w = world();
    const a = w.boot(buildA);
    const { c1 } = populate(a);
    c1.value = -1; // not a u32
    a.kernel.kexecLoad(buildB);
    expect(() => a.luo.prepare()).toThrow(LuoHookFailedError);
    expect(a.luo.phase).toBe("NORMAL");
    c1.value = 1;
    a.luo.prepare();
    expect(a.luo.phase).toBe("PREPARED");
  });

  it("refuses guarded operations on restored objects until finished, and ignores unpreserved ones", () => {
    const w = world();
    const a = w.boot(buildA);
    const { counters } = populate(a);
    const loose = counters.create(1);
    a.kernel.kexecLoad(buildB);
    a.luo.prepare();
    counters.relabel(loose, 4); // not preserved: never restricted
    expect(loose.label).toBe(4);
    const b = kexecIntoNext(a);
    const s = b.luo.retrieveSession("vm");
    const c = s.retrieve(1) as Counter;
    const drv = b.driver(CounterDriver);
    drv.increment(c); // UPDATED: allowed
    expect(() => drv.relabel(c, 1)).toThrow(LuoOperationRefusedError);
    s.finish();
    drv.relabel(c, 1);
    expect(c.label).toBe(1);
    expect(pattern(c.value)).toBe(b.machine.memory.readU8(c.page));
  });

  it("involves only explicitly preserved objects: other drivers, their FLBs and objects are untouched", () => {
    const w = world();
    const a = w.boot(buildA);
    const counters = a.driver(CounterDriver);
    const loose = counters.create(1);
    const onlyCounter = counters.create(2);
    const bridge = a.driver(BridgeDriver).create(onlyCounter);
    a.luo.createSession("vm").preserve(3, bridge);
    a.kernel.kexecLoad(buildB);
    const report = a.luo.prepare();
    expect(report.negotiation.drivers.map((d) => d.driver)).toEqual(["bridge", "luo"]);
    expect(report.flbs).toBe(0);
    a.luo.freeze();
    expect(w.probe.log).toEqual(["bridge.prepare:3", "bridge.serialize:3", "bridge.freeze:3"]);
    expect(a.kho.outgoing.isPreserved(loose.page, 4096)).toBe(false);
    a.luo.cancel();
    expect(w.probe.log.at(-1)).toBe("bridge.cancel+frozen:3");
    expect(a.kho.outgoing.isFinalized).toBe(false);
    expect([...a.kho.outgoing.preservedFolios()]).toEqual([]);
  });
});
