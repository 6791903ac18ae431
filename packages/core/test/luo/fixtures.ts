import "reflect-metadata";
import { container, inject, injectable } from "tsyringe";
import { Cancel } from "../../src/driver/decorators/cancel.decorator.js";
import { LiveUpdateDriver } from "../../src/driver/decorators/live-update-driver.decorator.js";
import { LiveUpdateFlb } from "../../src/driver/decorators/live-update-flb.decorator.js";
import { PhaseGuard } from "../../src/driver/decorators/phase-guard.decorator.js";
import type {
  CancelContext,
  FinishContext,
  FlbCancelContext,
  FlbFreezeContext,
  FlbPrepareContext,
  FlbRestoreContext,
  FlbSerializeContext,
  FreezeContext,
  PrepareContext,
  RestoreContext,
  SerializeContext,
} from "../../src/driver/index.js";
import { Machine } from "../../src/hw/machine.js";
import { PAGE_SIZE } from "../../src/hw/units.js";
import { defineKernelBuild, type KernelBuild } from "../../src/kernel/build.js";
import { Kernel } from "../../src/kernel/kernel.js";
import {
  bootLiveUpdateKernel,
  type LiveUpdateBootOptions,
  type LiveUpdateKernel,
} from "../../src/luo/boot.js";
import { Luo } from "../../src/luo/orchestrator.js";
import { type Infer, reserved, struct, u32, u64, versionedSchema } from "../../src/schema/index.js";

/** Thrown by {@link Probe.hit} when a fault is injected at that point. */
export class InjectedFault extends Error {
  constructor(readonly point: string) {
    super(`injected fault at ${point}`);
  }
}

/**
 * Test observer shared by all boots of a test (registered in the parent container): records every
 * hook in order and throws at injected fault points.
 */
@injectable()
export class Probe {
  readonly log: string[] = [];
  readonly faults = new Set<string>();
  /** Points that succeed this many more times, then fail once. */
  readonly faultsLater = new Map<string, number>();
  /** Points whose canFinish answers false. */
  readonly notReady = new Set<string>();

  hit(point: string): void {
    this.log.push(point);
    if (this.faults.has(point)) throw new InjectedFault(point);
    const later = this.faultsLater.get(point);
    if (later !== undefined) {
      if (later === 0) {
        this.faultsLater.delete(point);
        throw new InjectedFault(point);
      }
      this.faultsLater.set(point, later - 1);
    }
  }

  clear(): void {
    this.log.length = 0;
  }
}

// ---- schemas -----------------------------------------------------------------------------------

export const CounterV1 = struct("counter_v1", { page: u64(), value: u32(), _pad: reserved(4) });
export const CounterV2 = struct("counter_v2", { page: u64(), value: u32(), label: u32() });
export type CounterV1Value = Infer<typeof CounterV1>;
export type CounterV2Value = Infer<typeof CounterV2>;

export const CounterSchema = versionedSchema("counter", CounterV1).next(CounterV2, {
  kind: "injective",
  up: (v1) => ({ page: v1.page, value: v1.value, label: 0 }),
  down: (v2, ctx) =>
    v2.label === 0 ? { page: v2.page, value: v2.value } : ctx.refuse("label", "v1 has no label"),
});

export const TableV1 = struct("counter_table_v1", { created: u32(), generation: u32() });
export const TableSchema = versionedSchema("counter-table", TableV1);

export const BridgeV1 = struct("bridge_v1", { page: u64(), counter_page: u64() });
export const BridgeSchema = versionedSchema("bridge", BridgeV1);

/** Interface token through which the bridge driver reaches "whichever counter driver the build has". */
export const COUNTER_DRIVER = Symbol.for("test:CounterDriver");

// ---- objects -----------------------------------------------------------------------------------

/** A counter "device": one page of memory filled with a pattern derived from its value. */
export class Counter {
  constructor(
    readonly page: number,
    public value: number,
    public label = 0,
  ) {}
}

/** A consumer object that refers to a counter (by its page). */
export class Bridge {
  constructor(
    readonly page: number,
    readonly counter: Counter,
  ) {}
}

export function pattern(value: number): number {
  return (value * 37 + 11) & 0xff;
}

// ---- FLB ---------------------------------------------------------------------------------------

@LiveUpdateFlb({ schema: TableSchema, restorePolicy: "reset" })
export class CounterTable {
  created = 0;
  generation = 0;
  restoredFrom: number | undefined;

  constructor(readonly probe: Probe) {}

  onPrepare(_ctx: FlbPrepareContext): void {
    this.probe.hit("counter-table.prepare");
  }

  onSerialize(_ctx: FlbSerializeContext): Infer<typeof TableV1> {
    this.probe.hit("counter-table.serialize");
    return { created: this.created, generation: this.generation };
  }

  onFreeze(_ctx: FlbFreezeContext): void {
    this.probe.hit("counter-table.freeze");
  }

  onCancel(ctx: FlbCancelContext): void {
    this.probe.hit(`counter-table.cancel${ctx.frozen ? "+frozen" : ""}`);
  }

  onRestore(state: Infer<typeof TableV1>, _ctx: FlbRestoreContext): void {
    this.probe.hit("counter-table.restore");
    this.created = state.created;
    this.generation = state.generation + 1;
    this.restoredFrom = state.generation;
  }

  onFinish(): void {
    this.probe.hit("counter-table.finish");
  }

  /** Driver-wide change of the shared state (dirty-tracked during brownout). */
  @PhaseGuard({ brownout: "dirty", description: "bump the table generation" })
  bump(): void {
    this.generation++;
  }

  /** The same with an argument: still a change of the FLB (not of an object the argument names). */
  @PhaseGuard({ brownout: "dirty", description: "advance the table generation" })
  advance(by: number): void {
    this.generation += by;
  }
}

// ---- counter driver ----------------------------------------------------------------------------

/** The counter driver's behaviour; variants below declare different catalogs. */
@injectable()
export class CounterDriverBase {
  readonly restored = new Map<number, Counter>();
  /** Every restore hook's context, as the driver received it. */
  readonly restoreContexts: RestoreContext[] = [];

  constructor(
    readonly kernel: Kernel,
    readonly probe: Probe,
    readonly table: CounterTable,
    readonly luo: Luo,
  ) {}

  /** Creates a counter with its own page of "device memory". */
  create(value = 0): Counter {
    const page = this.kernel.allocPages(0);
    this.kernel.machine.memory.fill(page, PAGE_SIZE, pattern(value));
    this.table.created++;
    return new Counter(page, value);
  }

  findByPage(page: number): Counter | undefined {
    return this.restored.get(page);
  }

  canPreserve(object: unknown): boolean {
    return object instanceof Counter;
  }

  onPrepare(counter: Counter, ctx: PrepareContext): void {
    this.probe.hit(`counter.prepare:${ctx.token}`);
    ctx.preservePages(counter.page, 1);
  }

  onSerialize(counter: Counter, ctx: SerializeContext): CounterV2Value {
    this.probe.hit(`counter.serialize:${ctx.token}`);
    return { page: BigInt(counter.page), value: counter.value, label: counter.label };
  }

  onFreeze(_counter: Counter, ctx: FreezeContext): void {
    this.probe.hit(`counter.freeze:${ctx.token}`);
  }

  @Cancel()
  undo(_counter: Counter, ctx: CancelContext): void {
    this.probe.hit(`counter.cancel${ctx.frozen ? "+frozen" : ""}:${ctx.token}`);
  }

  onRestore(state: CounterV2Value, ctx: RestoreContext): Counter {
    this.probe.hit(`counter.restore:${ctx.token}`);
    this.restoreContexts.push(ctx);
    const page = ctx.restoreFolio(Number(state.page), 0);
    const counter = new Counter(page, state.value, state.label);
    this.restored.set(page, counter);
    return counter;
  }

  canFinish(_counter: Counter, ctx: FinishContext): boolean {
    this.probe.log.push(`counter.canFinish:${ctx.token}`);
    return !this.probe.notReady.has(`counter:${ctx.token}`);
  }

  onFinish(_counter: Counter, ctx: FinishContext): void {
    this.probe.hit(`counter.finish:${ctx.token}`);
  }

  /** Changes preserved state; allowed during brownout with dirty tracking. */
  @PhaseGuard({ brownout: "dirty", description: "add one to the counter" })
  increment(counter: Counter): void {
    counter.value++;
    this.kernel.machine.memory.fill(counter.page, PAGE_SIZE, pattern(counter.value));
  }

  /** Changes preserved state; refused during brownout and before finish. */
  @PhaseGuard({ brownout: "refuse", updated: "refuse", description: "relabel the counter" })
  relabel(counter: Counter, label: number): void {
    counter.label = label;
  }
}

/** Native v2, reads and writes v1 and v2 (the default catalog). */
@LiveUpdateDriver({ schema: CounterSchema, flbs: [CounterTable], provides: [COUNTER_DRIVER] })
export class CounterDriver extends CounterDriverBase {}

/** An older build's counter driver: native v1, reads/writes only v1. */
@LiveUpdateDriver({
  schema: CounterSchema,
  native: 1,
  writes: [1],
  reads: [1],
  flbs: [CounterTable],
  provides: [COUNTER_DRIVER],
})
export class CounterDriverV1 extends CounterDriverBase {
  override onSerialize(counter: Counter, ctx: SerializeContext): CounterV2Value {
    const v2 = super.onSerialize(counter, ctx);
    return { page: v2.page, value: v2.value } as unknown as CounterV2Value;
  }

  override onRestore(state: CounterV2Value, ctx: RestoreContext): Counter {
    return super.onRestore({ ...(state as unknown as CounterV1Value), label: 0 }, ctx);
  }
}

/** A newer build's counter driver that only reads v2 (no common version with {@link CounterDriverV1}). */
@LiveUpdateDriver({
  schema: CounterSchema,
  writes: [2],
  reads: [2],
  flbs: [CounterTable],
  provides: [COUNTER_DRIVER],
})
export class CounterDriverV2Only extends CounterDriverBase {}

/** Like {@link CounterDriver} but with restore policy `reset`. */
@LiveUpdateDriver({
  schema: CounterSchema,
  flbs: [CounterTable],
  provides: [COUNTER_DRIVER],
  restorePolicy: "reset",
})
export class CounterDriverReset extends CounterDriverBase {}

/** Like {@link CounterDriver} but serializing at freeze (strict). */
@LiveUpdateDriver({
  schema: CounterSchema,
  flbs: [CounterTable],
  provides: [COUNTER_DRIVER],
  serializeAt: "freeze",
})
export class CounterDriverStrict extends CounterDriverBase {}

// ---- bridge driver (a consumer of the counter driver) -------------------------------------------

/** Minimal view of a counter driver (an interface: injected through a token). */
export interface CounterLookup {
  findByPage(page: number): Counter | undefined;
}

@LiveUpdateDriver({ schema: BridgeSchema })
export class BridgeDriver {
  constructor(
    @inject(COUNTER_DRIVER) readonly counters: CounterLookup,
    readonly kernel: Kernel,
    readonly probe: Probe,
  ) {}

  create(counter: Counter): Bridge {
    const page = this.kernel.allocPages(0);
    this.kernel.machine.memory.fill(page, PAGE_SIZE, 0xb1);
    return new Bridge(page, counter);
  }

  canPreserve(object: unknown): boolean {
    return object instanceof Bridge;
  }

  onPrepare(bridge: Bridge, ctx: PrepareContext): void {
    this.probe.hit(`bridge.prepare:${ctx.token}`);
    ctx.preserveFolio(bridge.page, 0);
  }

  onSerialize(bridge: Bridge, ctx: SerializeContext): Infer<typeof BridgeV1> {
    this.probe.hit(`bridge.serialize:${ctx.token}`);
    return { page: BigInt(bridge.page), counter_page: BigInt(bridge.counter.page) };
  }

  onFreeze(_bridge: Bridge, ctx: FreezeContext): void {
    this.probe.hit(`bridge.freeze:${ctx.token}`);
  }

  onCancel(_bridge: Bridge, ctx: CancelContext): void {
    this.probe.hit(`bridge.cancel${ctx.frozen ? "+frozen" : ""}:${ctx.token}`);
  }

  onRestore(state: Infer<typeof BridgeV1>, ctx: RestoreContext): Bridge {
    this.probe.hit(`bridge.restore:${ctx.token}`);
    // Providers restore first: the counter must already be back.
    const counter = this.counters.findByPage(Number(state.counter_page));
    if (counter === undefined) throw new Error("bridge restored before its counter");
    return new Bridge(ctx.restoreFolio(Number(state.page), 0), counter);
  }

  onFinish(_bridge: Bridge, ctx: FinishContext): void {
    this.probe.hit(`bridge.finish:${ctx.token}`);
  }

  /** Changes the bridge's preserved state (dirty-tracked during brownout). */
  @PhaseGuard({ brownout: "dirty" })
  touch(bridge: Bridge): void {
    this.kernel.machine.memory.writeU8(bridge.page, 0xb2);
  }
}

// ---- builds and boot helpers ---------------------------------------------------------------------

export const buildA = defineKernelBuild({ version: "6.16.0-a", drivers: [BridgeDriver, CounterDriver] });
export const buildB = defineKernelBuild({ version: "6.16.0-b", drivers: [CounterDriver, BridgeDriver] });

/** A test world: a machine, a probe in a parent container, and a boot helper. */
export interface World {
  readonly machine: Machine;
  readonly probe: Probe;
  boot(build: KernelBuild, options?: Partial<LiveUpdateBootOptions>): LiveUpdateKernel;
  /** Boot options for the next kernel (probe container included). */
  readonly parent: ReturnType<typeof container.createChildContainer>;
}

export function world(memory = "1G"): World {
  const machine = new Machine({ memory });
  const probe = new Probe();
  const parent = container.createChildContainer();
  parent.registerInstance(Probe, probe);
  return {
    machine,
    probe,
    parent,
    boot: (build, options = {}) =>
      bootLiveUpdateKernel(machine, { build, seed: 1, container: parent, ...options }),
  };
}

/** A setup of two counters and a bridge on the second one, preserved in session "vm". */
export function populate(lk: LiveUpdateKernel, Driver: typeof CounterDriverBase = CounterDriver) {
  const counters = lk.driver(Driver as unknown as typeof CounterDriver);
  const bridges = lk.driver(BridgeDriver);
  const c1 = counters.create(5);
  const c2 = counters.create(9);
  const b3 = bridges.create(c2);
  const session = lk.luo.createSession("vm");
  session.preserve(1, c1);
  session.preserve(2, c2);
  session.preserve(3, b3);
  return { counters, bridges, c1, c2, b3, session };
}

/** Bytes of one page, for comparisons. */
export function pageBytes(lk: LiveUpdateKernel, page: number): Uint8Array {
  return lk.machine.memory.read(page, PAGE_SIZE);
}
