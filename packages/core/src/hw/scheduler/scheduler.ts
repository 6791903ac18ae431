import { Prng } from "../../common/prng.js";
import type { MachineClock } from "../clock.js";
import { DeviceAlreadyRegisteredError, SchedulerOptionsError } from "./errors.js";
import { type PhaseCounts, type UpdatePhase, zeroPhaseCounts } from "./phase.js";
import { PREEMPTION_POINTS, type PreemptionPoint } from "./preemption.js";

/** What a device is told when it runs. */
export interface DeviceRunContext {
  /** Machine time now (ns). */
  readonly now: number;
  /** Machine time (ns) that passed for this device since it last ran: the work it may do now. */
  readonly budgetNs: number;
  /** The update phase the work is counted in. */
  readonly phase: UpdatePhase;
  /** Why the machine runs: the preemption point. */
  readonly point: PreemptionPoint;
}

/**
 * A device that works on the machine's schedule. The scheduler calls {@link ScheduledDevice.run}
 * with the machine time that passed for it; the device converts it into work at its own rate
 * (bytes per second, descriptors per second) — it is never driven by a kernel call.
 */
export interface ScheduledDevice {
  /** Unique name on the machine (a PCI function uses its BDF, e.g. `0000:00:04.0`). */
  readonly name: string;
  /** Does the work `context.budgetNs` of machine time allows. Must not throw. */
  run(context: DeviceRunContext): void;
}

/** How the scheduler interleaves devices. */
export interface SchedulerOptions {
  /** Seed of the quanta, the run order and the selection (default 1). Same seed, same interleaving. */
  readonly seed?: number;
  /**
   * Machine time (ns) a preemption point lets pass on a manual clock, drawn uniformly from
   * `[min, max]` (default 1 µs to 10 µs). A real clock measures the time that passed instead.
   */
  readonly quantumNs?: { readonly min: number; readonly max: number };
  /**
   * Probability that a device runs at a given preemption point (default 0.5); a device that does
   * not run keeps its accrued time for the next time it runs, so skipping varies the interleaving,
   * never the total work. Ignored in stress mode.
   */
  readonly runProbability?: number;
  /** Run every device at every preemption point (the most interleavings). */
  readonly stress?: boolean;
  /**
   * On a real clock, the most machine time (ns) a device catches up in one run (default 1 ms): a
   * device falls behind rather than doing unbounded work in one preemption.
   */
  readonly maxCatchUpNs?: number;
}

interface Entry {
  readonly device: ScheduledDevice;
  accruedNs: number;
  readonly ranNs: PhaseCounts;
  readonly hostNs: PhaseCounts;
  runs: number;
}

/** Per-device figures the scheduler keeps (work units are the device's own counters). */
export interface DeviceScheduleStats {
  /** The device's name. */
  readonly name: string;
  /** How many times it ran. */
  readonly runs: number;
  /** Machine time (ns) it was given, per update phase. */
  readonly ranNs: Readonly<PhaseCounts>;
  /**
   * Host time (ns) its runs took, per update phase: what emulating the device cost. On a real
   * clock this time is inside the measured phase (a blackout includes the devices' emulation).
   */
  readonly hostNs: Readonly<PhaseCounts>;
}

/**
 * The machine's device scheduler. JavaScript runs one thing at a time, so devices work when the
 * machine is given cycles: at each {@link PreemptionPoint} the kernel and the orchestrator reach
 * ({@link DeviceScheduler.preempt}) and whenever the VMM model idles or runs the machine
 * ({@link DeviceScheduler.run}). Each time, machine time passes (a seeded quantum on a manual
 * clock, the elapsed time on a real one) and the devices run — in a seeded order, each with a
 * seeded probability, or all of them in stress mode — each with the time that passed for it.
 *
 * Under a manual clock everything is deterministic given the seed. With no device registered a
 * preemption point does nothing (the clock does not move), so device-less timelines are unchanged.
 * A preemption reached while devices run (an interrupt handler that preempts) does nothing.
 *
 * @example
 * ```ts
 * const machine = new Machine({ memory: "1G", manualClock: true, scheduler: { seed: 7 } });
 * machine.scheduler.register({ name: "ticker", run: (ctx) => console.log(ctx.budgetNs) });
 * machine.preempt("vmm:idle"); // the ticker may run with 1..10 µs
 * machine.run(1_000_000); // 1 ms of machine time, in quanta
 * ```
 */
export class DeviceScheduler {
  /** The seed in use. */
  readonly seed: number;
  /** Whether every device runs at every preemption point. */
  readonly stress: boolean;
  private readonly clock: MachineClock;
  private readonly manual: boolean;
  private readonly rng: Prng;
  private readonly quantumMin: number;
  private readonly quantumMax: number;
  private readonly runProbability: number;
  private readonly maxCatchUpNs: number;
  private readonly entries: Entry[] = [];
  private readonly byName = new Map<string, Entry>();
  /** A record, not a Map: the orchestrator reaches a point after every hook. */
  private readonly reached = Object.fromEntries(PREEMPTION_POINTS.map((p) => [p, 0])) as Record<
    PreemptionPoint,
    number
  >;
  private phaseValue: UpdatePhase = "before";
  private lastTick: number;
  private running = false;

  /**
   * @param clock - the machine clock (a manual clock makes the scheduler deterministic).
   * @param options - seed, quantum, selection, stress mode.
   * @throws {@link SchedulerOptionsError} for invalid settings.
   */
  constructor(clock: MachineClock, options: SchedulerOptions = {}) {
    this.clock = clock;
    this.manual = clock.isManual;
    this.seed = options.seed ?? 1;
    this.rng = new Prng(this.seed);
    this.stress = options.stress ?? false;
    const quantum = options.quantumNs ?? { min: 1_000, max: 10_000 };
    if (!Number.isSafeInteger(quantum.min) || quantum.min < 0 || !Number.isSafeInteger(quantum.max)) {
      throw new SchedulerOptionsError("quantumNs", quantum);
    }
    if (quantum.max < quantum.min) throw new SchedulerOptionsError("quantumNs", quantum);
    this.quantumMin = quantum.min;
    this.quantumMax = quantum.max;
    this.runProbability = options.runProbability ?? 0.5;
    if (!(this.runProbability >= 0 && this.runProbability <= 1)) {
      throw new SchedulerOptionsError("runProbability", options.runProbability);
    }
    this.maxCatchUpNs = options.maxCatchUpNs ?? 1_000_000;
    if (!(this.maxCatchUpNs > 0)) throw new SchedulerOptionsError("maxCatchUpNs", options.maxCatchUpNs);
    this.lastTick = clock.now();
  }

  /** The update phase device work is counted in. */
  get phase(): UpdatePhase {
    return this.phaseValue;
  }

  /** Sets the update phase (the orchestrator calls it through `Machine.setUpdatePhase`). */
  setPhase(phase: UpdatePhase): void {
    this.phaseValue = phase;
  }

  /**
   * Registers a device; it accrues machine time from now on.
   *
   * @throws {@link DeviceAlreadyRegisteredError} when a device of that name is registered.
   */
  register(device: ScheduledDevice): void {
    if (this.byName.has(device.name)) throw new DeviceAlreadyRegisteredError(device.name);
    const entry: Entry = {
      device,
      accruedNs: 0,
      ranNs: zeroPhaseCounts(),
      hostNs: zeroPhaseCounts(),
      runs: 0,
    };
    this.entries.push(entry);
    this.byName.set(device.name, entry);
  }

  /** Removes a device (e.g. hot-unplugged); unknown devices are ignored. */
  unregister(device: ScheduledDevice): void {
    const entry = this.byName.get(device.name);
    if (entry === undefined || entry.device !== device) return;
    this.byName.delete(device.name);
    this.entries.splice(this.entries.indexOf(entry), 1);
  }

  /** Names of the registered devices, in registration order. */
  devices(): string[] {
    return this.entries.map((e) => e.device.name);
  }

  /** What the scheduler knows about one device, if registered. */
  stats(name: string): DeviceScheduleStats | undefined {
    const e = this.byName.get(name);
    return e === undefined
      ? undefined
      : { name, runs: e.runs, ranNs: { ...e.ranNs }, hostNs: { ...e.hostNs } };
  }

  /** How many times each preemption point was reached (with devices registered or not). */
  preemptions(): Readonly<Record<PreemptionPoint, number>> {
    return { ...this.reached };
  }

  /**
   * A preemption point: machine time passes (one seeded quantum on a manual clock) and the devices
   * run. See {@link PreemptionPoint} for where software calls it.
   */
  preempt(point: PreemptionPoint): void {
    this.reached[point]++;
    if (this.entries.length === 0 || this.running) return;
    let elapsed: number;
    if (this.manual) {
      elapsed = this.rng.int(this.quantumMin, this.quantumMax);
      this.clock.advance(elapsed);
    } else {
      elapsed = Math.min(this.clock.now() - this.lastTick, this.maxCatchUpNs);
    }
    this.tick(elapsed, point, this.stress);
  }

  /**
   * Lets the machine run for `ns` of machine time (the VMM model idling for that long): on a manual
   * clock in seeded quanta, each a tick where devices run; on a real clock as one tick of `ns`.
   * Every device runs at the end, so all work due within `ns` is done when this returns.
   */
  run(ns: number, point: PreemptionPoint = "vmm:run"): void {
    if (!Number.isSafeInteger(ns) || ns < 0) throw new SchedulerOptionsError("run(ns)", ns);
    this.reached[point]++;
    if (this.running) return;
    if (!this.manual) {
      this.tick(ns, point, true);
      return;
    }
    let remaining = ns;
    while (remaining > 0) {
      const slice = Math.min(remaining, Math.max(1, this.rng.int(this.quantumMin, this.quantumMax)));
      this.clock.advance(slice);
      remaining -= slice;
      this.tick(slice, point, this.stress || remaining === 0);
    }
  }

  private tick(elapsed: number, point: PreemptionPoint, everyone: boolean): void {
    this.lastTick = this.clock.now();
    const entries = this.entries;
    for (const e of entries) e.accruedNs += elapsed;
    // Seeded order: a Fisher–Yates shuffle of the indices.
    const order = entries.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = this.rng.int(0, i);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    this.running = true;
    try {
      for (const i of order) {
        const e = entries[i]!;
        if (!everyone && this.rng.float() >= this.runProbability) continue;
        if (e.accruedNs === 0) continue;
        const budgetNs = e.accruedNs;
        e.accruedNs = 0;
        e.runs++;
        e.ranNs[this.phaseValue] += budgetNs;
        const started = performance.now();
        e.device.run({ now: this.lastTick, budgetNs, phase: this.phaseValue, point });
        e.hostNs[this.phaseValue] += Math.round((performance.now() - started) * 1e6);
      }
    } finally {
      this.running = false;
    }
  }
}
