import { describe, expect, it } from "vitest";
import { defineKernelBuild } from "../../src/kernel/build.js";
import { kexecIntoNext } from "../../src/luo/boot.js";
import { type Counter, CounterDriver, CounterDriverStrict, world } from "./fixtures.js";

const relaxed = defineKernelBuild({ version: "draft-relaxed", drivers: [CounterDriver] });
const strict = defineKernelBuild({ version: "draft-strict", drivers: [CounterDriverStrict] });

/** `encode` hooks (the orchestrator's serialization of one state) between freeze start and end. */
function encodesDuringFreeze(events: readonly { kind: string }[]): number {
  let inFreeze = false;
  let count = 0;
  for (const e of events as readonly { kind: string; step?: string; edge?: string; hook?: string }[]) {
    if (e.kind === "step" && e.step === "freeze") inFreeze = e.edge === "start";
    if (inFreeze && e.kind === "hook" && e.hook === "encode") count++;
  }
  return count;
}

describe("O(dirty) freeze: the handover is drafted at prepare and patched at freeze", () => {
  it("re-encodes only the dirty object at freeze, and the new kernel sees the change", () => {
    const w = world("512M");
    const a = w.boot(relaxed);
    const counters = a.driver(CounterDriver);
    const s = a.luo.createSession("vm");
    const list = Array.from({ length: 8 }, (_, i) => counters.create(i * 10));
    for (const [i, c] of list.entries()) s.preserve(i + 1, c);
    a.kernel.kexecLoad(relaxed);
    a.luo.prepare();
    counters.increment(list[3]!);
    const report = a.luo.freeze();
    expect(report.serializedAtFreeze).toBe(1);
    expect(encodesDuringFreeze(a.timeline.eventsOf(a.timeline.update))).toBe(1);
    const b = kexecIntoNext(a);
    const vm = b.luo.retrieveSession("vm");
    list.forEach((c, i) => {
      const back = vm.retrieve(i + 1) as Counter;
      expect(back.page).toBe(c.page);
      expect(back.value).toBe(i === 3 ? 31 : i * 10);
    });
    // The data pages are freed after the resume mark.
    b.luo.markResumed();
    expect(b.kho.incoming!.restoredCount).toBe(b.kho.incoming!.preservedCount);
  });

  it("patches every record in strict mode (records whose folio lists grew at freeze)", () => {
    const w = world("512M");
    const a = w.boot(strict);
    const counters = a.driver(CounterDriverStrict);
    const s = a.luo.createSession("vm");
    const list = Array.from({ length: 4 }, (_, i) => counters.create(i + 1));
    for (const [i, c] of list.entries()) s.preserve(i + 1, c);
    a.kernel.kexecLoad(strict);
    a.luo.prepare();
    expect(a.luo.freeze().serializedAtFreeze).toBe(4);
    const b = kexecIntoNext(a);
    const vm = b.luo.retrieveSession("vm");
    for (const [i, c] of list.entries()) expect((vm.retrieve(i + 1) as Counter).value).toBe(c.value);
    // Never marked resumed: the orchestrator's data pages wait for finish, which frees them.
    const incoming = b.kho.incoming!;
    expect(incoming.preservedCount - incoming.restoredCount).toBeGreaterThanOrEqual(4);
    vm.finish();
    expect(incoming.restoredCount).toBe(incoming.preservedCount);
    expect(b.luo.phase).toBe("NORMAL");
  });

  it("writes the handover whole when sessions or objects change during brownout", () => {
    const w = world("512M");
    const a = w.boot(relaxed);
    const counters = a.driver(CounterDriver);
    const s = a.luo.createSession("vm");
    const c1 = counters.create(1);
    const c2 = counters.create(2);
    s.preserve(1, c1);
    s.preserve(2, c2);
    a.kernel.kexecLoad(relaxed);
    a.luo.prepare();
    s.unpreserve(2);
    const late = counters.create(7);
    a.luo.createSession("late").preserve(9, late);
    const b = kexecIntoNext(a);
    expect(b.luo.incomingSessions().sort()).toEqual(["late", "vm"]);
    const vm = b.luo.retrieveSession("vm");
    expect(vm.tokens()).toEqual([1n]);
    expect((vm.retrieve(1) as Counter).page).toBe(c1.page);
    expect((b.luo.retrieveSession("late").retrieve(9) as Counter).value).toBe(7);
  });

  it("a cancelled update releases the draft: a second update starts clean", () => {
    const w = world("512M");
    const a = w.boot(relaxed);
    const counters = a.driver(CounterDriver);
    const c1 = counters.create(5);
    a.luo.createSession("vm").preserve(1, c1);
    a.kernel.kexecLoad(relaxed);
    const preserved = () => [...a.kho.outgoing.preservedFolios()].length;
    a.luo.prepare();
    expect(preserved()).toBeGreaterThan(2); // its page, its state, the drafted handover
    a.luo.cancel();
    expect(preserved()).toBe(0);
    const b = kexecIntoNext(a);
    expect((b.luo.retrieveSession("vm").retrieve(1) as Counter).value).toBe(5);
  });

  it("frees the data pages of objects first restored by finish when the VMs were never marked resumed", () => {
    const w = world("512M");
    const a = w.boot(relaxed);
    const counters = a.driver(CounterDriver);
    const s = a.luo.createSession("vm");
    for (let i = 0; i < 3; i++) s.preserve(i + 1, counters.create(i));
    a.kernel.kexecLoad(relaxed);
    a.luo.prepare();
    a.luo.freeze();
    const b = kexecIntoNext(a);
    const incoming = b.kho.incoming!;
    // Nothing retrieved, no resume mark: finish restores the objects (restore-then-finish) and must
    // free their data pages too.
    b.luo.retrieveSession("vm").finish();
    expect(b.luo.phase).toBe("NORMAL");
    expect(incoming.restoredCount).toBe(incoming.preservedCount);
  });

  it("hands restore hooks a context whose own properties are exactly the RestoreContext members", () => {
    const w = world("512M");
    const a = w.boot(relaxed);
    const s = a.luo.createSession("vm");
    s.preserve(1, a.driver(CounterDriver).create(5));
    a.kernel.kexecLoad(relaxed);
    const b = kexecIntoNext(a);
    b.luo.retrieveSession("vm").retrieve(1);
    const ctx = b.driver(CounterDriver).restoreContexts[0]!;
    expect(Object.keys(ctx).sort()).toEqual(
      [
        "compatible",
        "driver",
        "folios",
        "phase",
        "restoreFolio",
        "restorePages",
        "session",
        "token",
        "writtenVersion",
      ].sort(),
    );
    expect({ ...ctx }.folios).toEqual(ctx.folios);
    expect(ctx.folios).toHaveLength(1);
  });
});
