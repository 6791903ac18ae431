import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "../../src/hw/units.js";
import { kexecIntoNext } from "../../src/luo/boot.js";
import { LuoHookFailedError } from "../../src/luo/errors.js";
import { Bridge, buildA, buildB, Counter, InjectedFault, pageBytes, populate, world } from "./fixtures.js";

/** Participants in forward (dependency) order: the FLB, the two counters, the bridge. */
const PARTICIPANTS = [
  { point: "counter-table", driver: "counter-table", token: undefined },
  { point: "counter", driver: "counter", token: 1n },
  { point: "counter", driver: "counter", token: 2n },
  { point: "bridge", driver: "bridge", token: 3n },
] as const;

type Participant = (typeof PARTICIPANTS)[number];

const label = (p: Participant) => (p.token === undefined ? p.point : `${p.point}:${p.token}`);
const hookPoint = (p: Participant, hook: string) =>
  p.token === undefined ? `${p.point}.${hook}` : `${p.point}.${hook}:${p.token}`;
const cancelPoint = (p: Participant, frozen: boolean) =>
  p.token === undefined
    ? `${p.point}.cancel${frozen ? "+frozen" : ""}`
    : `${p.point}.cancel${frozen ? "+frozen" : ""}:${p.token}`;

interface Case {
  readonly name: string;
  readonly hook: "prepare" | "serialize" | "freeze";
  readonly target: Participant;
  /** Fail the hook's second call (a dirty re-serialization at freeze) instead of the first. */
  readonly second?: boolean;
}

const CASES: Case[] = [];
for (const target of PARTICIPANTS) {
  for (const hook of ["prepare", "serialize", "freeze"] as const)
    CASES.push({ name: `${hook} of ${label(target)}`, hook, target });
  CASES.push({
    name: `dirty re-serialize of ${label(target)} at freeze`,
    hook: "serialize",
    target,
    second: true,
  });
}

/** What the cancel hooks must be, in order, for a failure at `c`. */
function expectedCancels(c: Case): string[] {
  const index = PARTICIPANTS.indexOf(c.target);
  const out: string[] = [];
  if (c.hook === "prepare" || (c.hook === "serialize" && !c.second)) {
    // Forward order; the failing participant's prepare did not complete when prepare failed.
    for (let i = index; i >= 0; i--) {
      if (i === index && c.hook === "prepare") continue;
      out.push(cancelPoint(PARTICIPANTS[i]!, false));
    }
    return out;
  }
  // Freeze runs in reverse order: participants after the failing one froze already.
  for (let i = PARTICIPANTS.length - 1; i >= 0; i--) {
    const frozen = i > index || (i === index && c.second === true);
    out.push(cancelPoint(PARTICIPANTS[i]!, frozen));
  }
  return out;
}

describe("failure at every hook of every object (multi-driver, with an FLB)", () => {
  it.each(CASES)(
    "$name cancels everything done, in reverse order, leaving NORMAL and memory unchanged",
    (c) => {
      const w = world("512M");
      const a = w.boot(buildA);
      const { c1, c2, b3, counters, bridges } = populate(a);
      const objects = [c1, c2, b3];
      const pages = objects.map((o) => pageBytes(a, o.page));
      const values = [c1.value, c2.value];
      const folios = [...a.kho.outgoing.preservedFolios()];
      // KHO keeps its own metadata pages (the root FDT page, preservation bitmaps) once allocated;
      // allocate the root page up front and account bitmaps separately, so any other difference is a leak.
      a.kho.finalize();
      a.kho.abort();
      const owned = () => a.kernel.freeBytes() + a.kho.outgoing.stats().bitmapPages * PAGE_SIZE;
      const freeBytes = owned();
      a.kernel.kexecLoad(buildB);

      const point = hookPoint(c.target, c.hook);
      if (c.second) w.probe.faultsLater.set(point, 1);
      else w.probe.faults.add(point);
      w.probe.clear();
      let error: unknown;
      try {
        a.luo.prepare();
        if (c.second) {
          // Dirty every participant so each is re-serialized at freeze.
          counters.increment(c1);
          counters.increment(c2);
          counters.table.bump();
          bridges.touch(b3);
          w.probe.faultsLater.set(point, 0);
        }
        a.luo.freeze();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(LuoHookFailedError);
      const failure = error as LuoHookFailedError;
      expect(failure.cause).toBeInstanceOf(InjectedFault);
      expect(failure.context).toMatchObject({ hook: c.hook, driver: c.target.driver });
      if (c.target.token !== undefined)
        expect(failure.context).toMatchObject({ session: "vm", token: c.target.token });
      expect(failure.errno).toBe("EIO");

      // Back in NORMAL, everything undone in reverse order, nothing leaked.
      expect(a.luo.phase).toBe("NORMAL");
      expect(w.probe.log.filter((l) => l.includes(".cancel"))).toEqual(expectedCancels(c));
      expect(a.kho.outgoing.isFinalized).toBe(false);
      expect(a.kho.outgoing.subtreeNames()).toEqual([]);
      expect([...a.kho.outgoing.preservedFolios()]).toEqual(folios);
      if (c.second) {
        counters.relabel(c1, 0); // NORMAL again: guarded operations are allowed
        values[0]! += 1;
        values[1]! += 1;
        pages[0] = pageBytes(a, c1.page);
        pages[1] = pageBytes(a, c2.page);
        pages[2] = pageBytes(a, b3.page);
      }
      expect([c1.value, c2.value]).toEqual(values);
      expect(objects.map((o) => pageBytes(a, o.page))).toEqual(pages);
      expect(owned()).toBe(freeBytes);
      expect(a.timeline.summary().cancelled).toBe(true);
      expect(a.timeline.summary().errors).toHaveLength(0);

      // Every object is intact: the same update succeeds once the fault is gone.
      w.probe.faults.clear();
      w.probe.faultsLater.clear();
      const b = kexecIntoNext(a);
      const vm = b.luo.retrieveSession("vm");
      expect((vm.retrieve(1) as Counter).value).toBe(values[0]);
      expect((vm.retrieve(2) as Counter).value).toBe(values[1]);
      expect((vm.retrieve(3) as Bridge).counter).toBe(vm.retrieve(2));
      expect(pageBytes(b, (vm.retrieve(3) as Bridge).page)).toEqual(pages[2]);
    },
  );

  it("records cancel errors in the timeline instead of throwing", () => {
    const w = world("512M");
    const a = w.boot(buildA);
    populate(a);
    a.kernel.kexecLoad(buildB);
    a.luo.prepare();
    w.probe.faults.add("counter.cancel:1");
    w.probe.faults.add("counter-table.cancel");
    expect(() => a.luo.cancel("test")).not.toThrow();
    expect(a.luo.phase).toBe("NORMAL");
    const errors = a.timeline.summary().errors;
    expect(errors.map((e) => [e.where, e.driver, e.token])).toEqual([
      ["cancel", "counter", 1n],
      ["cancel", "counter-table", undefined],
    ]);
    expect([...a.kho.outgoing.preservedFolios()]).toEqual([]);
  });
});
