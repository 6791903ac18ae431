import { describe, expect, it } from "vitest";
import { kexecIntoNext } from "../../src/luo/boot.js";
import { LuoFlbUnavailableError } from "../../src/luo/errors.js";
import { DriverDeclarationError } from "../../src/luo/handlers/errors.js";
import { buildA, buildB, Counter, CounterTable, populate, world } from "./fixtures.js";

/** How many times the FLB's restore hook ran. */
const restores = (log: readonly string[]) => log.filter((p) => p === "counter-table.restore").length;

describe("Luo.flbIncoming (liveupdate_flb_get_incoming)", () => {
  it("restores a pending FLB on demand, before any user object, once", () => {
    const w = world();
    const a = w.boot(buildA);
    const { counters } = populate(a);
    counters.table.generation = 7;
    const b = kexecIntoNext(a, { build: buildB, seed: 2 });
    expect(restores(w.probe.log)).toBe(0); // lazy: nothing retrieved yet
    expect(b.luo.flbIncoming(CounterTable)).toBe(true);
    expect(restores(w.probe.log)).toBe(1);
    const table = b.driver(CounterTable);
    expect(table.restoredFrom).toBe(7);
    expect(w.probe.log).not.toContain("counter.restore:1");
    // Asking again, and restoring its users, does not restore it again.
    expect(b.luo.flbIncoming(CounterTable)).toBe(true);
    const session = b.luo.retrieveSession("vm");
    expect(session.retrieve(1)).toBeInstanceOf(Counter);
    expect(restores(w.probe.log)).toBe(1);
    // It is still finished after its last user, as a lazily restored FLB is.
    b.luo.finish();
    expect(w.probe.log).toContain("counter-table.finish");
  });

  it("answers false on a boot without handover, and refuses a class that is not an FLB of the build", () => {
    const w = world();
    const a = w.boot(buildA);
    expect(a.luo.flbIncoming(CounterTable)).toBe(false);
    expect(() => a.luo.flbIncoming(Counter)).toThrow(DriverDeclarationError);
  });

  it("answers false when the handover holds no such FLB (no object of its users was preserved)", () => {
    const w = world();
    const a = w.boot(buildA);
    a.luo.createSession("empty");
    const b = kexecIntoNext(a, { build: buildB, seed: 2 });
    expect(b.luo.flbIncoming(CounterTable)).toBe(false);
    expect(restores(w.probe.log)).toBe(0);
  });

  it("throws LuoFlbUnavailableError for an FLB the handover held but whose restore failed", () => {
    const w = world();
    const a = w.boot(buildA);
    populate(a);
    w.probe.faults.add("counter-table.restore");
    const b = kexecIntoNext(a, { build: buildB, seed: 2 });
    expect(() => b.luo.flbIncoming(CounterTable)).toThrow(LuoFlbUnavailableError);
    w.probe.faults.delete("counter-table.restore");
    expect(() => b.luo.flbIncoming(CounterTable)).toThrow(LuoFlbUnavailableError);
  });
});
