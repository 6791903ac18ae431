import { describe, expect, it } from "vitest";
import { kexecIntoNext } from "../../src/luo/boot.js";
import {
  LuoError,
  LuoInvalidArgumentError,
  LuoNoHandlerError,
  LuoObjectBusyError,
  LuoPhaseError,
  LuoSessionBusyError,
  LuoSessionClosedError,
  LuoSessionExistsError,
  LuoSessionFinishedError,
  LuoSessionNotFoundError,
  LuoSessionRetrievedError,
  LuoTokenExistsError,
  LuoTokenNotFoundError,
} from "../../src/luo/errors.js";
import { Bridge, BridgeDriver, buildA, buildB, Counter, CounterDriver, populate, world } from "./fixtures.js";

function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof LuoError ? e.errno : `not a LuoError: ${String(e)}`;
  }
  return undefined;
}

describe("outgoing sessions", () => {
  it("creates named sessions once (EEXIST) with names that fit char[64] (EINVAL)", () => {
    const a = world().boot(buildA);
    const s = a.luo.createSession("vm-1");
    expect(s.name).toBe("vm-1");
    expect(() => a.luo.createSession("vm-1")).toThrow(LuoSessionExistsError);
    expect(errnoOf(() => a.luo.createSession("vm-1"))).toBe("EEXIST");
    expect(() => a.luo.createSession("")).toThrow(LuoInvalidArgumentError);
    expect(() => a.luo.createSession("x".repeat(64))).toThrow(LuoInvalidArgumentError);
    a.luo.createSession("x".repeat(63));
    expect(a.luo.sessions().map((x) => x.name)).toEqual(["vm-1", "x".repeat(63)]);
  });

  it("preserves by token: unique per session (EEXIST), any u64, one object once (EBUSY), a handler needed (ENOENT)", () => {
    const a = world().boot(buildA);
    const counters = a.driver(CounterDriver);
    const s = a.luo.createSession("s");
    const t = a.luo.createSession("t");
    const c = counters.create();
    s.preserve(0xffff_ffff_ffff_ffffn, c);
    expect(s.tokens()).toEqual([0xffff_ffff_ffff_ffffn]);
    expect(() => s.preserve(0xffff_ffff_ffff_ffffn, counters.create())).toThrow(LuoTokenExistsError);
    expect(errnoOf(() => t.preserve(1, c))).toBe("EBUSY");
    expect(() => t.preserve(1, c)).toThrow(LuoObjectBusyError);
    t.preserve(0xffff_ffff_ffff_ffffn, counters.create()); // same token, other session: fine
    expect(() => s.preserve(-1, counters.create())).toThrow(LuoInvalidArgumentError);
    expect(() => s.preserve(2n ** 64n, counters.create())).toThrow(LuoInvalidArgumentError);
    expect(() => s.preserve(3, { not: "a counter" })).toThrow(LuoNoHandlerError);
    expect(errnoOf(() => s.preserve(3, { not: "a counter" }))).toBe("ENOENT");
    expect(() => s.preserve(3, counters.create(), { driver: BridgeDriver })).toThrow(LuoNoHandlerError);
    expect(() => s.preserve(4, 42)).toThrow(LuoInvalidArgumentError);
    expect(a.luo.whereIs(c)).toEqual({ session: "s", token: 0xffff_ffff_ffff_ffffn, direction: "outgoing" });
  });

  it("unpreserves (ENOENT for unknown tokens) and closes sessions, freeing the name", () => {
    const a = world().boot(buildA);
    const { session, c1 } = populate(a);
    session.unpreserve(1);
    expect(session.tokens()).toEqual([2n, 3n]);
    expect(() => session.unpreserve(1)).toThrow(LuoTokenNotFoundError);
    expect(() => session.object(1)).toThrow(LuoTokenNotFoundError);
    expect(a.luo.whereIs(c1)).toBeUndefined();
    session.close();
    expect(session.open).toBe(false);
    expect(() => session.preserve(9, c1)).toThrow(LuoSessionClosedError);
    expect(errnoOf(() => session.preserve(9, c1))).toBe("EBADF");
    expect(a.luo.session("vm")).toBeUndefined();
    a.luo.createSession("vm").preserve(1, c1);
  });

  it("cancels objects when their session is closed or they are unpreserved during brownout", () => {
    const w = world();
    const a = w.boot(buildA);
    const { session, counters } = populate(a);
    const other = a.luo.createSession("other");
    const lone = counters.create(3);
    other.preserve(7, lone);
    a.kernel.kexecLoad(buildB);
    a.luo.prepare();
    w.probe.clear();
    other.unpreserve(7);
    expect(w.probe.log).toEqual(["counter.cancel:7"]);
    w.probe.clear();
    session.close();
    // Reverse dependency order: the bridge first; the FLB after its last user.
    expect(w.probe.log).toEqual([
      "bridge.cancel:3",
      "counter.cancel:2",
      "counter.cancel:1",
      "counter-table.cancel",
    ]);
    expect(a.luo.phase).toBe("PREPARED");
    // Preserving during brownout prepares (and serializes) at once, FLB included.
    w.probe.clear();
    a.luo.createSession("late").preserve(1, counters.create());
    expect(w.probe.log).toEqual([
      "counter-table.prepare",
      "counter-table.serialize",
      "counter.prepare:1",
      "counter.serialize:1",
    ]);
    a.luo.freeze();
    expect(() => a.luo.createSession("frozen")).toThrow(LuoPhaseError);
    expect(() => a.luo.session("late")!.unpreserve(1)).toThrow(LuoPhaseError);
    expect(errnoOf(() => a.luo.session("late")!.close())).toBe("EBUSY");
  });
});

describe("incoming sessions", () => {
  it("keep tokens on both sides of 2^30 and up to 2^64 - 1 apart, in preservation order, across kexec", () => {
    // The token index keys small tokens by number and large ones by bigint: the boundary must not merge them.
    const tokens = [0x3fff_ffffn, 0x4000_0000n, 0n, 0xffff_ffff_ffff_ffffn, 2n ** 53n + 1n, 2n ** 53n];
    const a = world().boot(buildA);
    const counters = a.driver(CounterDriver);
    const s = a.luo.createSession("tokens");
    for (const [i, t] of tokens.entries()) s.preserve(t, counters.create(i + 10));
    expect(() => s.preserve(0x4000_0000, counters.create())).toThrow(LuoTokenExistsError);
    expect(s.tokens()).toEqual(tokens);
    s.unpreserve(0x3fff_ffff);
    expect(s.tokens()).toEqual(tokens.slice(1));
    s.preserve(0x3fff_ffffn, counters.create(10));
    const b = kexecIntoNext(a, { build: buildB });
    const back = b.luo.retrieveSession("tokens");
    expect(back.tokens()).toEqual([...tokens.slice(1), tokens[0]]);
    for (const [i, t] of tokens.entries()) expect((back.retrieve(t) as Counter).value).toBe(i + 10);
    expect(() => back.retrieve(0x4000_0001)).toThrow(LuoTokenNotFoundError);
  });

  it("are retrieved by name once (ENOENT, EINVAL), objects by token idempotently, and finished atomically", () => {
    const w = world();
    const a = w.boot(buildA);
    const { session } = populate(a);
    a.luo.createSession("second").preserve(1, a.driver(CounterDriver).create(4));
    expect(session.tokens()).toEqual([1n, 2n, 3n]);
    const b = kexecIntoNext(a, { build: buildB });
    expect(b.luo.incomingSessions()).toEqual(["vm", "second"]);
    expect(() => b.luo.retrieveSession("nope")).toThrow(LuoSessionNotFoundError);
    expect(errnoOf(() => b.luo.retrieveSession("nope"))).toBe("ENOENT");
    const vm = b.luo.retrieveSession("vm");
    expect(() => b.luo.retrieveSession("vm")).toThrow(LuoSessionRetrievedError);
    expect(errnoOf(() => b.luo.retrieveSession("vm"))).toBe("EINVAL");
    expect(vm.tokens()).toEqual([1n, 2n, 3n]);
    const c1 = vm.retrieve(1);
    expect(vm.retrieve(1n)).toBe(c1);
    expect(vm.retrieve(3)).toBeInstanceOf(Bridge);
    expect(() => vm.retrieve(4)).toThrow(LuoTokenNotFoundError);
    expect(b.luo.whereIs(c1)).toEqual({ session: "vm", token: 1n, direction: "incoming" });
    // A name in use by an incoming session cannot be reused before it is finished.
    expect(() => b.luo.createSession("vm")).toThrow(LuoSessionExistsError);

    // canFinish is asked of every object first; one refusal finishes nothing.
    w.probe.notReady.add("counter:1");
    w.probe.clear();
    expect(() => vm.finish()).toThrow(LuoSessionBusyError);
    expect(errnoOf(() => vm.finish())).toBe("EBUSY");
    expect(w.probe.log.filter((l) => l.includes("finish:"))).toEqual([]);
    expect(vm.status(1)).toBe("restored");
    w.probe.notReady.clear();
    vm.finish();
    expect(vm.finished).toBe(true);
    expect(vm.status(1)).toBe("finished");
    expect(() => vm.finish()).toThrow(LuoSessionFinishedError);
    expect(b.luo.whereIs(c1)).toBeUndefined();
    // The FLB is finished after its last user, which is in the other session.
    expect(w.probe.log).not.toContain("counter-table.finish");
    expect(b.luo.phase).toBe("UPDATED");
    expect(b.luo.finish()).toEqual({ finished: ["second"], busy: [] });
    expect(w.probe.log.at(-1)).toBe("counter-table.finish");
    expect(b.luo.phase).toBe("NORMAL");
    expect(() => b.luo.retrieveSession("second")).toThrow(LuoSessionNotFoundError);
    expect(() => b.luo.prepare()).not.toThrow(LuoPhaseError); // a new update may start (no target loaded yet)
  });

  it("lets the new kernel preserve restored objects again once finished, and not before", () => {
    const a = world().boot(buildA);
    populate(a);
    const b = kexecIntoNext(a, { build: buildB });
    const vm = b.luo.retrieveSession("vm");
    const counter = vm.retrieve(1) as Counter;
    const next = b.luo.createSession("next");
    expect(() => next.preserve(1, counter)).toThrow(LuoObjectBusyError);
    expect(() => b.luo.prepare()).toThrow(LuoPhaseError);
    vm.finish();
    next.preserve(1, counter);
    expect(b.luo.phase).toBe("NORMAL");
  });
});
