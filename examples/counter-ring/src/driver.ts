import {
  type CanPreserve,
  Kernel,
  LiveUpdateDriver,
  type OnPrepare,
  type OnRestore,
  type OnSerialize,
  PAGE_SIZE,
  PhaseGuard,
  type PrepareContext,
  type RestoreContext,
  type SerializeContext,
} from "@liveupdate/core";
import { CounterRingCorruptError, CounterRingRangeError } from "./errors.js";
import { CounterRing, type RingMode } from "./ring.js";
import {
  CounterRingSchema,
  type CounterRingV2Value,
  MAX_CAPACITY,
  RING_MODES,
  SLOT_OVERFLOWED,
  sealOf,
} from "./schema.js";
import { CounterRingTable } from "./table.js";

/** Largest counter value. */
const U32_MAX = 0xffff_ffff;

/** Options of {@link CounterRingDriver.create}. */
export interface CreateRingOptions {
  /** Number of slots, 1..1024 (default 16). */
  readonly capacity?: number;
  /** Overflow behaviour (default `"wrap"`). */
  readonly mode?: RingMode;
}

// #region declaration
/**
 * The counter ring driver. Its objects are {@link CounterRing}s; each ring's counters live in one
 * page of device memory, which is preserved as is across the update, and the ring's geometry is
 * handed over as a `counter-ring-v2` (or `-v1`) state.
 */
@LiveUpdateDriver({ schema: CounterRingSchema, flbs: [CounterRingTable] })
export class CounterRingDriver
  implements
    CanPreserve,
    OnPrepare<CounterRing>,
    OnSerialize<CounterRing, CounterRingV2Value>,
    OnRestore<CounterRing, CounterRingV2Value>
{
  /**
   * Receives the kernel and the shared table by constructor injection, from this boot's container.
   *
   * @param kernel - the running kernel (page allocator, machine memory).
   * @param table - the driver's FLB.
   */
  constructor(
    readonly kernel: Kernel,
    readonly table: CounterRingTable,
  ) {}
  // #endregion declaration

  // #region operations
  /** Creates a ring with a zeroed page of counters. */
  create(options: CreateRingOptions = {}): CounterRing {
    const capacity = options.capacity ?? 16;
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
      throw new CounterRingRangeError(`capacity ${capacity} is not in 1..${MAX_CAPACITY}`, { capacity });
    }
    const page = this.kernel.allocPages(0);
    this.kernel.machine.memory.fill(page, PAGE_SIZE, 0);
    const id = this.table.allocate();
    return new CounterRing(id, page, capacity, 0, 0, options.mode ?? "wrap", new Uint8Array(capacity));
  }

  /** The live counters, oldest first. */
  read(ring: CounterRing): number[] {
    const out: number[] = [];
    for (let i = 0; i < ring.length; i++) out.push(this.slot(ring, (ring.tail + i) % ring.capacity));
    return out;
  }

  /** Adds `by` to the counter at the head. Allowed during brownout: the ring is re-serialized at freeze. */
  @PhaseGuard({ brownout: "dirty", description: "add to the counter at the head" })
  increment(ring: CounterRing, by = 1): void {
    if (!Number.isInteger(by) || by < 0 || by > U32_MAX) {
      throw new CounterRingRangeError(`increment ${by} is not in 0..${U32_MAX}`, { ring: ring.id, by });
    }
    let value = this.slot(ring, ring.head) + by;
    if (value > U32_MAX) {
      ring.flags[ring.head]! |= SLOT_OVERFLOWED;
      value = ring.mode === "wrap" ? value - (U32_MAX + 1) : U32_MAX;
    }
    this.kernel.machine.memory.writeU32(ring.page + 4 * ring.head, value);
  }

  /** Opens a new slot at the head; when the ring is full the oldest slot is dropped. */
  @PhaseGuard({ brownout: "dirty", description: "open a new slot" })
  tick(ring: CounterRing): void {
    ring.head = (ring.head + 1) % ring.capacity;
    if (ring.head === ring.tail) ring.tail = (ring.tail + 1) % ring.capacity;
    ring.flags[ring.head] = 0;
    this.kernel.machine.memory.writeU32(ring.page + 4 * ring.head, 0);
  }

  /** Changes the number of slots, keeping the newest counters. Refused (EBUSY) during an update. */
  @PhaseGuard({ brownout: "refuse", updated: "refuse", description: "change the number of slots" })
  resize(ring: CounterRing, capacity: number): void {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
      throw new CounterRingRangeError(`capacity ${capacity} is not in 1..${MAX_CAPACITY}`, { capacity });
    }
    const counters = this.read(ring).slice(-capacity);
    const flags = Array.from({ length: counters.length }, (_, i) => {
      return ring.flags[(ring.tail + ring.length - counters.length + i) % ring.capacity]!;
    });
    const memory = this.kernel.machine.memory;
    memory.fill(ring.page, PAGE_SIZE, 0);
    counters.forEach((value, i) => {
      memory.writeU32(ring.page + 4 * i, value);
    });
    ring.capacity = capacity;
    ring.tail = 0;
    ring.head = counters.length - 1;
    ring.flags = new Uint8Array(capacity);
    ring.flags.set(flags);
  }

  /** Changes the overflow behaviour. Refused (EBUSY) during brownout. */
  @PhaseGuard({ brownout: "refuse", description: "change the overflow behaviour" })
  setMode(ring: CounterRing, mode: RingMode): void {
    ring.mode = mode;
  }
  // #endregion operations

  // #region hooks
  /** Only rings are ours. */
  canPreserve(object: unknown): boolean {
    return object instanceof CounterRing;
  }

  /** Brownout: preserve the counter page, so it survives the kexec in place. */
  onPrepare(ring: CounterRing, ctx: PrepareContext): void {
    ctx.preserveFolio(ring.page, 0);
  }

  /** Captures the ring as a native (v2) value; the orchestrator migrates it to the negotiated version. */
  onSerialize(ring: CounterRing, _ctx: SerializeContext): CounterRingV2Value {
    const state = {
      id: ring.id,
      capacity: ring.capacity,
      head: ring.head,
      tail: ring.tail,
      mode: RING_MODES[ring.mode],
      page: BigInt(ring.page),
      flags: [...ring.flags],
    };
    return { ...state, seal: sealOf(state) };
  }

  /**
   * New kernel: rebuilds the ring from its state (already decoded, checked against the schema and
   * migrated to v2). Restore trusts nothing: the seal, the indices and the id are checked before
   * the page is taken back, and only a page listed for this ring can be taken.
   */
  onRestore(state: CounterRingV2Value, ctx: RestoreContext): CounterRing {
    const corrupt = (what: string): never => {
      throw new CounterRingCorruptError(`counter ring (token ${ctx.token}): ${what}`, {
        driver: ctx.driver,
        session: ctx.session,
        token: ctx.token,
      });
    };
    if (state.seal !== sealOf(state)) corrupt("the state does not match its seal");
    if (state.head >= state.capacity || state.tail >= state.capacity)
      corrupt("head or tail outside the ring");
    if (state.flags.length !== state.capacity) corrupt("the flags do not cover every slot");
    if (state.id < 1 || state.id >= this.table.nextId) corrupt(`id ${state.id} was never handed out`);
    const page = ctx.restoreFolio(Number(state.page), 0);
    const mode: RingMode = state.mode === RING_MODES.saturate ? "saturate" : "wrap";
    return new CounterRing(
      state.id,
      page,
      state.capacity,
      state.head,
      state.tail,
      mode,
      Uint8Array.from(state.flags),
    );
  }
  // #endregion hooks

  private slot(ring: CounterRing, index: number): number {
    return this.kernel.machine.memory.readU32(ring.page + 4 * index);
  }
}
