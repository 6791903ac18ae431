import { describe, expect, it } from "vitest";
import {
  DriverDeclarationError,
  LiveUpdateDriver,
  LiveUpdateFlb,
  PhaseGuard,
} from "../../src/driver/index.js";
import { defineKernelBuild } from "../../src/kernel/build.js";
import { kexecIntoNext } from "../../src/luo/boot.js";
import { LuoOperationRefusedError } from "../../src/luo/errors.js";
import type { TimelineEvent } from "../../src/luo/timeline.js";
import {
  type Counter,
  CounterDriverBase,
  CounterSchema,
  CounterTable,
  TableSchema,
  world,
} from "./fixtures.js";

/** A counter driver with operations on its FLB: one that names the FLB, one driver-wide. */
@LiveUpdateDriver({ schema: CounterSchema, flbs: [CounterTable] })
class TableOwner extends CounterDriverBase {
  /** Changes only the FLB: the target is the FLB instance (the first argument). */
  @PhaseGuard({ brownout: "dirty" })
  renumber(table: CounterTable): void {
    table.generation += 10;
  }

  /** Driver-wide: every preserved counter and the FLB change. */
  @PhaseGuard({ brownout: "dirty", target: () => undefined })
  resetAll(counters: readonly Counter[]): void {
    for (const c of counters) c.value = 0;
    this.table.generation = 0;
  }
}
const build = defineKernelBuild({ version: "guards", drivers: [TableOwner] });

function brownout() {
  const w = world();
  const k = w.boot(build);
  const owner = k.driver(TableOwner);
  const c1 = owner.create(5);
  const c2 = owner.create(7);
  const session = k.luo.createSession("vm");
  session.preserve(1, c1);
  session.preserve(2, c2);
  k.kernel.kexecLoad(build);
  k.luo.prepare();
  const mark = k.timeline.events.length;
  const dirtySince = () =>
    k.timeline.events
      .slice(mark)
      .filter((e): e is Extract<TimelineEvent, { kind: "dirty" }> => e.kind === "dirty")
      .map((e) => `${e.driver}${e.token === undefined ? "" : `:${e.token}`}`);
  return { k, owner, c1, c2, dirtySince };
}

describe("@PhaseGuard on FLB state", () => {
  it("tracks an FLB's own operation (no target) during brownout, re-serializes it, and refuses it in FROZEN", () => {
    const { k, owner, dirtySince } = brownout();
    owner.table.advance(3); // its first argument is not a preserved object: the FLB changes
    expect(dirtySince()).toEqual(["counter-table"]);
    const generation = owner.table.generation;
    const freeze = k.luo.freeze();
    expect(freeze.serializedAtFreeze).toBe(1); // the FLB only; the counters serialized at prepare
    expect(() => owner.table.advance(1)).toThrow(LuoOperationRefusedError);
    expect(() => owner.table.bump()).toThrow(LuoOperationRefusedError);
    const next = kexecIntoNext(k, { build });
    next.luo.retrieveSession("vm").retrieve(1);
    expect(next.driver(TableOwner).table.restoredFrom).toBe(generation);
  });

  it("leaves an FLB's operation unrestricted while the FLB is not preserved", () => {
    const w = world();
    const k = w.boot(build);
    k.kernel.kexecLoad(build);
    k.luo.prepare();
    expect(() => k.driver(TableOwner).table.bump()).not.toThrow();
  });

  it("marks only the FLB when a driver operation's target is the FLB instance", () => {
    const { k, owner, dirtySince } = brownout();
    owner.renumber(owner.table);
    expect(dirtySince()).toEqual(["counter-table"]);
    k.luo.freeze();
    expect(() => owner.renumber(owner.table)).toThrow(LuoOperationRefusedError);
  });

  it("marks every preserved object of the driver and its FLBs for a driver-wide operation", () => {
    const { k, owner, c1, c2, dirtySince } = brownout();
    owner.resetAll([c1, c2]);
    expect(dirtySince().sort()).toEqual(["counter-table", "counter:1", "counter:2"]);
    expect(k.luo.freeze().serializedAtFreeze).toBe(3);
  });

  it("refuses a target on an FLB operation at declaration", () => {
    const declare = () => {
      @LiveUpdateFlb({ schema: TableSchema })
      class Picky {
        onSerialize() {
          return { created: 0, generation: 0 };
        }
        onRestore() {}
        @PhaseGuard({ brownout: "dirty", target: (id: number) => id })
        touch(_id: number): void {}
      }
      return Picky;
    };
    expect(declare).toThrow(DriverDeclarationError);
    expect(declare).toThrow(/FLB operation touch gives a target/);
  });
});

describe("dirty tracking", () => {
  it("records one dirty event per object per brownout, however many calls", () => {
    const { k, owner, c1, dirtySince } = brownout();
    for (let i = 0; i < 1000; i++) owner.increment(c1);
    owner.table.bump();
    owner.table.bump();
    expect(dirtySince()).toEqual(["counter:1", "counter-table"]);
    k.luo.cancel();
    // A new brownout serializes at prepare again: the next change is a new event.
    k.luo.prepare();
    const before = k.timeline.events.filter((e) => e.kind === "dirty").length;
    owner.increment(c1);
    owner.increment(c1);
    expect(k.timeline.events.filter((e) => e.kind === "dirty").length).toBe(before + 1);
    // Every call still counts: the new kernel sees all 1002 increments.
    k.luo.freeze();
    const next = kexecIntoNext(k, { build });
    expect((next.luo.retrieveSession("vm").retrieve(1) as Counter).value).toBe(5 + 1002);
  });
});
