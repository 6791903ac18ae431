import {
  DeviceAlreadyRegisteredError,
  type DeviceRunContext,
  Machine,
  MiB,
  type ScheduledDevice,
  SchedulerOptionsError,
} from "@liveupdate/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

/** A device that records when it ran and for how long. */
function recorder(name: string, log: string[]): ScheduledDevice & { total: number } {
  const device = {
    name,
    total: 0,
    run(ctx: DeviceRunContext) {
      device.total += ctx.budgetNs;
      log.push(`${name}@${ctx.now}+${ctx.budgetNs}:${ctx.phase}:${ctx.point}`);
    },
  };
  return device;
}

function scenario(seed: number, stress = false): string[] {
  const machine = new Machine({ memory: 64 * MiB, manualClock: true, scheduler: { seed, stress } });
  const log: string[] = [];
  for (const name of ["a", "b", "c"]) machine.scheduler.register(recorder(name, log));
  for (let i = 0; i < 20; i++) machine.preempt("luo:between-hooks");
  machine.setUpdatePhase("blackout");
  machine.run(50_000);
  machine.idle();
  return log;
}

describe("DeviceScheduler", () => {
  it("is deterministic by seed: same seed, same interleaving; another seed, another one", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        expect(scenario(seed)).toEqual(scenario(seed));
      }),
      { numRuns: 20 },
    );
    expect(scenario(1)).not.toEqual(scenario(2));
  });

  it("gives every device all the machine time that passed, whether it ran at every point or not", () => {
    const machine = new Machine({ memory: 64 * MiB, manualClock: true, scheduler: { seed: 3 } });
    const log: string[] = [];
    const a = recorder("a", log);
    const b = recorder("b", log);
    machine.scheduler.register(a);
    machine.scheduler.register(b);
    for (let i = 0; i < 50; i++) machine.preempt("luo:between-hooks");
    machine.run(10_000); // every device runs at the end of a run
    expect(a.total).toBe(machine.clock.now());
    expect(b.total).toBe(machine.clock.now());
    expect(machine.scheduler.stats("a")!.ranNs.before).toBe(machine.clock.now());
    // Not every device at every point (runProbability 0.5): fewer runs than ticks.
    expect(machine.scheduler.stats("a")!.runs).toBeLessThan(50);
  });

  it("counts the host time each device's emulation took, per phase", () => {
    const machine = new Machine({ memory: "64M", manualClock: true });
    const busy = {
      name: "busy",
      run: () => {
        const until = performance.now() + 2; // 2 ms of host work per run
        while (performance.now() < until) {}
      },
    };
    machine.scheduler.register(busy);
    machine.setUpdatePhase("blackout");
    machine.run(1_000);
    const host = machine.scheduler.stats("busy")!.hostNs;
    expect(host.blackout).toBeGreaterThanOrEqual(2_000_000);
    expect(host.before).toBe(0);
  });

  it("runs every device at every preemption point in stress mode", () => {
    const log = scenario(9, true);
    const points = log.filter((l) => l.includes("luo:between-hooks"));
    expect(points.length).toBe(60); // 3 devices x 20 points
  });

  it("counts machine time per update phase", () => {
    const machine = new Machine({ memory: 64 * MiB, manualClock: true, scheduler: { stress: true } });
    machine.scheduler.register(recorder("a", []));
    machine.preempt("luo:between-hooks");
    const before = machine.clock.now();
    machine.setUpdatePhase("brownout");
    machine.preempt("luo:between-hooks");
    const brownout = machine.clock.now() - before;
    machine.setUpdatePhase("blackout");
    machine.run(7_000);
    machine.setUpdatePhase("after");
    machine.idle();
    const ran = machine.scheduler.stats("a")!.ranNs;
    expect(ran.before).toBe(before);
    expect(ran.brownout).toBe(brownout);
    expect(ran.blackout).toBe(7_000);
    expect(ran.after).toBeGreaterThanOrEqual(1_000);
    expect(machine.updatePhase).toBe("after");
  });

  it("advances a manual clock by a quantum within bounds, and not at all without devices", () => {
    const machine = new Machine({
      memory: 64 * MiB,
      manualClock: true,
      scheduler: { quantumNs: { min: 100, max: 200 } },
    });
    machine.preempt("kernel:early-boot");
    expect(machine.clock.now()).toBe(0);
    expect(machine.scheduler.preemptions()["kernel:early-boot"]).toBe(1);
    machine.scheduler.register(recorder("a", []));
    machine.preempt("kernel:early-boot");
    expect(machine.clock.now()).toBeGreaterThanOrEqual(100);
    expect(machine.clock.now()).toBeLessThanOrEqual(200);
  });

  it("does not re-enter: a preemption reached while devices run does nothing", () => {
    const machine = new Machine({ memory: 64 * MiB, manualClock: true, scheduler: { stress: true } });
    let runs = 0;
    machine.scheduler.register({
      name: "reentrant",
      run() {
        runs++;
        machine.preempt("vmm:idle");
      },
    });
    machine.idle();
    expect(runs).toBe(1);
  });

  it("refuses duplicate names and invalid options with typed errors; unregisters", () => {
    const machine = new Machine({ memory: 64 * MiB, manualClock: true });
    const a = recorder("a", []);
    machine.scheduler.register(a);
    expect(() => machine.scheduler.register(recorder("a", []))).toThrow(DeviceAlreadyRegisteredError);
    machine.scheduler.unregister(a);
    expect(machine.scheduler.devices()).toEqual([]);
    expect(() => new Machine({ memory: 64 * MiB, scheduler: { quantumNs: { min: 5, max: 1 } } })).toThrow(
      SchedulerOptionsError,
    );
    expect(() => new Machine({ memory: 64 * MiB, scheduler: { runProbability: 2 } })).toThrow(
      SchedulerOptionsError,
    );
    expect(() => machine.run(-1)).toThrow(SchedulerOptionsError);
  });

  it("on a real clock, gives devices the elapsed time (capped) and run(ns) exactly", () => {
    const machine = new Machine({ memory: 64 * MiB, scheduler: { stress: true, maxCatchUpNs: 1_000 } });
    const a = recorder("a", []);
    machine.scheduler.register(a);
    machine.run(5_000);
    expect(a.total).toBe(5_000);
    const start = Date.now();
    while (Date.now() - start < 2); // let real time pass
    machine.idle();
    expect(a.total).toBe(6_000);
  });
});
