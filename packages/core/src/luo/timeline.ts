import type { MachineClock } from "../hw/clock.js";
import type { Machine } from "../hw/machine.js";
import type { ResetReport } from "./handlers/types.js";
import type { LuoPhase } from "./phase.js";

/** Fields every timeline event has. */
export interface TimelineEventBase {
  /** Position in the timeline (0, 1, 2, …). */
  readonly seq: number;
  /** Machine clock time in nanoseconds (the end time for spans). */
  readonly at: number;
  /** Boot that emitted the event. */
  readonly bootId: number;
  /** Update cycle the event belongs to (incremented by each `prepare`; 0 before the first). */
  readonly update: number;
}

/** A phase transition of the orchestrator. */
export interface PhaseEvent extends TimelineEventBase {
  /** Discriminant. */
  readonly kind: "phase";
  /** Phase left. */
  readonly from: LuoPhase;
  /** Phase entered. */
  readonly to: LuoPhase;
  /** The call that made the transition. */
  readonly via: "prepare" | "freeze" | "cancel" | "reboot" | "finish" | "boot";
}

/** The orchestrator's steps, each emitted as a span (`start` … `end`). */
export type TimelineStep = "prepare" | "freeze" | "handover" | "cancel" | "kexec" | "restore" | "finish";

/** Start or end of a step. */
export interface StepEvent extends TimelineEventBase {
  /** Discriminant. */
  readonly kind: "step";
  /** Which step. */
  readonly step: TimelineStep;
  /** Start or end. */
  readonly edge: "start" | "end";
  /** Whether the step completed (end events only). */
  readonly ok?: boolean;
}

/** One hook invocation, or the orchestrator's own per-object work (`encode`, `decode`, `release`). */
export interface HookEvent extends TimelineEventBase {
  /** Discriminant. */
  readonly kind: "hook";
  /** Hook name, or `encode` / `decode` / `release` for orchestrator work on the object's behalf. */
  readonly hook: string;
  /** Whether it ran for an object or for an FLB. */
  readonly owner: "object" | "flb";
  /** Driver or FLB name. */
  readonly driver: string;
  /** Session (objects only). */
  readonly session?: string;
  /** Token (objects only). */
  readonly token?: bigint;
  /** Start time (ns). */
  readonly start: number;
  /** Duration (ns). */
  readonly durationNs: number;
  /** Whether it returned normally. */
  readonly ok: boolean;
  /** Bytes written or read (encode/decode). */
  readonly bytes?: number;
  /** The error, when it threw. */
  readonly error?: TimelineError;
}

/** An error as recorded in the timeline. */
export interface TimelineError {
  /** `LiveUpdateError.code`, or the error's name for foreign errors. */
  readonly code: string;
  /** Message. */
  readonly message: string;
}

/** An error that was recorded instead of thrown (cancel and finish must not fail). */
export interface ErrorEvent extends TimelineEventBase {
  /** Discriminant. */
  readonly kind: "error";
  /** What was being done. */
  readonly where: string;
  /** Driver or FLB concerned. */
  readonly driver?: string;
  /** Session concerned. */
  readonly session?: string;
  /** Token concerned. */
  readonly token?: bigint;
  /** The error. */
  readonly error: TimelineError;
}

/** Something odd but not fatal (a reboot without live update, memory a driver did not restore, …). */
export interface WarningEvent extends TimelineEventBase {
  /** Discriminant. */
  readonly kind: "warning";
  /** Message. */
  readonly message: string;
  /** Driver concerned. */
  readonly driver?: string;
  /** Session concerned. */
  readonly session?: string;
  /** Token concerned. */
  readonly token?: bigint;
}

/** A preserved object was changed during brownout and will be re-serialized at freeze. */
export interface DirtyEvent extends TimelineEventBase {
  /** Discriminant. */
  readonly kind: "dirty";
  /** Driver or FLB. */
  readonly driver: string;
  /** The operation. */
  readonly operation: string;
  /** Session (objects only). */
  readonly session?: string;
  /** Token (objects only). */
  readonly token?: bigint;
}

/** The negotiated versions of an update. */
export interface NegotiatedEvent extends TimelineEventBase {
  /** Discriminant. */
  readonly kind: "negotiated";
  /** Running build. */
  readonly running: string;
  /** Target build. */
  readonly target: string;
  /** Per driver: the version written. */
  readonly drivers: readonly NegotiatedVersion[];
}

/** The version negotiated for one driver (or FLB, or the orchestrator itself). */
export interface NegotiatedVersion {
  /** Driver name. */
  readonly driver: string;
  /** Version written to the handover. */
  readonly version: number;
  /** Its compatible string. */
  readonly compatible: string;
}

/** Per-object sizes of a written handover. */
export interface HandoverObjectBytes {
  /** Driver or FLB. */
  readonly driver: string;
  /** Session (objects only). */
  readonly session?: string;
  /** Token (objects only). */
  readonly token?: bigint;
  /** Compatible string written. */
  readonly compatible: string;
  /** Bytes of preserved pages holding the serialized state. */
  readonly dataBytes: number;
  /** Bytes the driver preserved through the orchestrator (its own memory). */
  readonly preservedBytes: number;
}

/** The handover was written (at the end of freeze). */
export interface HandoverEvent extends TimelineEventBase {
  /** Discriminant. */
  readonly kind: "handover";
  /** Bytes of the orchestrator's own handover (the `luo` subtree's data pages). */
  readonly luoBytes: number;
  /** Serialized state bytes of every object and FLB. */
  readonly dataBytes: number;
  /** Driver-preserved bytes of every object and FLB. */
  readonly preservedBytes: number;
  /** The KHO finalize report's preserved bytes (everything that crosses). */
  readonly khoPreservedBytes: number;
  /** Per object and FLB. */
  readonly objects: readonly HandoverObjectBytes[];
}

/** An object or FLB was dropped by the `reset` restore policy. */
export interface ResetEvent extends TimelineEventBase {
  /** Discriminant. */
  readonly kind: "reset";
  /** The report. */
  readonly report: ResetReport;
}

/**
 * The VMM model resumed its VMs after retrieving what they need (`Luo.markResumed`): the end of the
 * blackout.
 */
export interface ResumedEvent extends TimelineEventBase {
  /** Discriminant. */
  readonly kind: "resumed";
  /** Objects restored when the VMs resumed. */
  readonly restored: number;
  /** Objects of the handover still pending (restored later, on retrieve or at finish). */
  readonly pending: number;
}

/** Any timeline event. */
export type TimelineEvent =
  | PhaseEvent
  | StepEvent
  | HookEvent
  | ErrorEvent
  | WarningEvent
  | DirtyEvent
  | NegotiatedEvent
  | HandoverEvent
  | ResetEvent
  | ResumedEvent;

/** Optional explicit time of an event passed to {@link Timeline.record}. */
export interface TimelineEventTime {
  /** Machine clock time (ns) to stamp instead of now (e.g. the end of a span measured earlier). */
  readonly at?: number;
}

/** An event as passed to {@link Timeline.record} (the timeline fills in `seq`, `at`, `update`). */
export type TimelineEventInput = (TimelineEvent extends infer E
  ? E extends TimelineEvent
    ? Omit<E, "seq" | "at" | "update">
    : never
  : never) &
  TimelineEventTime;

/** Time and work per driver (or FLB) in one update. */
export interface DriverTotals {
  /** Driver or FLB name. */
  readonly driver: string;
  /** Hook (and encode/decode) invocations. */
  readonly calls: number;
  /** Their total duration (ns). */
  readonly totalNs: number;
  /** Total duration per hook name (ns). */
  readonly byHook: Readonly<Record<string, number>>;
  /** Objects (and FLB instances) that went through the update. */
  readonly objects: number;
  /** Serialized state bytes. */
  readonly dataBytes: number;
  /** Driver-preserved bytes. */
  readonly preservedBytes: number;
}

/** Time and work per object in one update. */
export interface ObjectTotals {
  /** Driver. */
  readonly driver: string;
  /** Session. */
  readonly session: string;
  /** Token. */
  readonly token: bigint;
  /** Hook (and encode/decode) invocations. */
  readonly calls: number;
  /** Their total duration (ns). */
  readonly totalNs: number;
  /** Total duration per hook name (ns). */
  readonly byHook: Readonly<Record<string, number>>;
  /** Serialized state bytes. */
  readonly dataBytes: number;
  /** Driver-preserved bytes. */
  readonly preservedBytes: number;
}

/** The numbers of one update cycle. */
export interface UpdateSummary {
  /** Update cycle. */
  readonly update: number;
  /** Prepare start (brownout start), ns. */
  readonly prepareStart: number | undefined;
  /** Freeze start (brownout end, blackout start), ns. */
  readonly freezeStart: number | undefined;
  /**
   * End of the last restore in the new kernel, ns: the later of the boot's restore step (handover
   * validation) and the last `decode`/`restore` hook (restore is lazy: objects are restored when
   * retrieved).
   */
  readonly restoreEnd: number | undefined;
  /** When the VMM model marked its VMs resumed (`Luo.markResumed`), ns. */
  readonly resumedAt: number | undefined;
  /**
   * What ended the blackout: `resumed` (the resume mark) or `last-restore` (fallback when the VMs
   * were never marked resumed: {@link UpdateSummary.restoreEnd}).
   */
  readonly blackoutEnd: "resumed" | "last-restore" | undefined;
  /** prepare start → freeze start (ns), when both happened. */
  readonly brownoutNs: number | undefined;
  /**
   * freeze start → the resume mark, or → the last restore end when never marked (ns), when the
   * update reached the new kernel.
   */
  readonly blackoutNs: number | undefined;
  /** Bytes handed over: the orchestrator's handover plus every object's serialized state. */
  readonly handoverBytes: number;
  /** Per driver and FLB, sorted by name. */
  readonly perDriver: readonly DriverTotals[];
  /** Per object, in first-seen order. */
  readonly perObject: readonly ObjectTotals[];
  /** Objects dropped by the reset policy. */
  readonly resets: readonly ResetReport[];
  /** Errors recorded instead of thrown. */
  readonly errors: readonly ErrorEvent[];
  /** Whether the update was cancelled (a cancel step ran). */
  readonly cancelled: boolean;
}

const timelines = new WeakMap<Machine, Timeline>();

/** Converts anything thrown into a {@link TimelineError}. */
export function toTimelineError(error: unknown): TimelineError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { code: typeof code === "string" ? code : error.name, message: error.message };
  }
  return { code: "NON_ERROR_THROWN", message: String(error) };
}

/**
 * Structured events of live updates on the machine clock (ns): phase transitions, step spans,
 * every hook invocation with its duration, recorded errors, resets, handover sizes. It belongs to
 * the machine (like the clock), the way a trace buffer outlives a kexec, so one timeline spans the
 * old and the new kernel of an update; no kernel state is carried through it.
 *
 * @example
 * ```ts
 * const next = kexecIntoNext(current, { build: v2 });
 * const s = next.timeline.summary();
 * console.log(s.brownoutNs, s.blackoutNs, s.perDriver);
 * ```
 */
export class Timeline {
  /** Events other than hooks, in order. */
  private readonly list: TimelineEvent[] = [];
  /** Hook events, column by column. */
  private readonly hooks = new HookColumns();
  /** Both merged into events (built on read, extended incrementally). */
  private readonly merged: TimelineEvent[] = [];
  private mergedList = 0;
  private mergedHooks = 0;
  private nextSeq = 0;
  private updateValue = 0;

  /** @param clock - the machine clock events are timed on. */
  constructor(readonly clock: MachineClock) {}

  /** The timeline of `machine` (created on first use). */
  static of(machine: Machine): Timeline {
    let timeline = timelines.get(machine);
    if (timeline === undefined) {
      timeline = new Timeline(machine.clock);
      timelines.set(machine, timeline);
    }
    return timeline;
  }

  /**
   * All events so far, oldest first: the list as of this read (read the property again to see
   * events recorded later; hook events are stored column-wise and merged in on read).
   */
  get events(): readonly TimelineEvent[] {
    this.catchUp();
    return this.merged;
  }

  /** The current update cycle (0 before the first prepare). */
  get update(): number {
    return this.updateValue;
  }

  /** Machine clock now (ns). */
  now(): number {
    return this.clock.now();
  }

  /** Starts a new update cycle and returns its number. */
  beginUpdate(): number {
    this.updateValue++;
    return this.updateValue;
  }

  /** Appends an event (stamped with `seq`, the current update, and `at` = now unless given). */
  record(event: TimelineEventInput): TimelineEvent {
    const stamped = {
      ...event,
      seq: this.nextSeq++,
      at: event.at ?? this.clock.now(),
      update: this.updateValue,
    } as TimelineEvent;
    this.list.push(stamped);
    return stamped;
  }

  /** Events of one update cycle (default: the current one). */
  eventsOf(update = this.updateValue): readonly TimelineEvent[] {
    return this.events.filter((e) => e.update === update);
  }

  /**
   * Appends a hook event from its parts, without building an object (the orchestrator records one
   * per object and hook); it reads back as a {@link HookEvent}. Not part of the public surface.
   *
   * @internal
   */
  recordHook(
    bootId: number,
    hook: string,
    owner: "object" | "flb",
    driver: string,
    session: string | undefined,
    token: bigint | undefined,
    start: number,
    end: number,
    error: TimelineError | undefined,
  ): void {
    this.hooks.push(
      this.nextSeq++,
      this.updateValue,
      bootId,
      hook,
      owner,
      driver,
      session,
      token,
      start,
      end,
      error,
    );
  }

  /** Merges what was recorded since the last read into {@link Timeline.events}, in `seq` order. */
  private catchUp(): void {
    const h = this.hooks;
    while (this.mergedList < this.list.length || this.mergedHooks < h.length) {
      const listSeq = this.mergedList < this.list.length ? this.list[this.mergedList]!.seq : Infinity;
      const hookSeq = this.mergedHooks < h.length ? h.seqOf(this.mergedHooks) : Infinity;
      if (listSeq < hookSeq) this.merged.push(this.list[this.mergedList++]!);
      else this.merged.push(h.event(this.mergedHooks++));
    }
  }

  /**
   * Brownout, blackout, bytes, and per-driver and per-object totals of one update cycle
   * (default: the current one).
   */
  summary(update = this.updateValue): UpdateSummary {
    const events = this.eventsOf(update);
    let prepareStart: number | undefined;
    let freezeStart: number | undefined;
    let restoreEnd: number | undefined;
    let resumedAt: number | undefined;
    let handoverBytes = 0;
    let cancelled = false;
    const drivers = new Map<
      string,
      {
        calls: number;
        totalNs: number;
        byHook: Record<string, number>;
        objects: Set<string>;
        dataBytes: number;
        preservedBytes: number;
      }
    >();
    const objects = new Map<
      string,
      {
        driver: string;
        session: string;
        token: bigint;
        calls: number;
        totalNs: number;
        byHook: Record<string, number>;
        dataBytes: number;
        preservedBytes: number;
      }
    >();
    const resets: ResetReport[] = [];
    const errors: ErrorEvent[] = [];
    const driverOf = (name: string) => {
      let d = drivers.get(name);
      if (d === undefined) {
        d = { calls: 0, totalNs: 0, byHook: {}, objects: new Set(), dataBytes: 0, preservedBytes: 0 };
        drivers.set(name, d);
      }
      return d;
    };
    for (const e of events) {
      switch (e.kind) {
        case "step":
          if (e.step === "prepare" && e.edge === "start" && prepareStart === undefined) prepareStart = e.at;
          if (e.step === "freeze" && e.edge === "start") freezeStart = e.at;
          if (e.step === "restore" && e.edge === "end") restoreEnd = Math.max(restoreEnd ?? 0, e.at);
          if (e.step === "cancel" && e.edge === "start") cancelled = true;
          break;
        case "hook": {
          if (e.hook === "restore" || e.hook === "decode") restoreEnd = Math.max(restoreEnd ?? 0, e.at);
          const d = driverOf(e.driver);
          d.calls++;
          d.totalNs += e.durationNs;
          d.byHook[e.hook] = (d.byHook[e.hook] ?? 0) + e.durationNs;
          const key = e.owner === "flb" ? `flb:${e.driver}` : `${e.session}\u0000${String(e.token)}`;
          d.objects.add(key);
          if (e.owner === "object" && e.session !== undefined && e.token !== undefined) {
            let o = objects.get(key);
            if (o === undefined) {
              o = {
                driver: e.driver,
                session: e.session,
                token: e.token,
                calls: 0,
                totalNs: 0,
                byHook: {},
                dataBytes: 0,
                preservedBytes: 0,
              };
              objects.set(key, o);
            }
            o.calls++;
            o.totalNs += e.durationNs;
            o.byHook[e.hook] = (o.byHook[e.hook] ?? 0) + e.durationNs;
          }
          break;
        }
        case "handover":
          handoverBytes = e.luoBytes + e.dataBytes;
          for (const o of e.objects) {
            const d = driverOf(o.driver);
            d.dataBytes += o.dataBytes;
            d.preservedBytes += o.preservedBytes;
            if (o.session !== undefined) {
              const rec = objects.get(`${o.session}\u0000${String(o.token)}`);
              if (rec !== undefined) {
                rec.dataBytes += o.dataBytes;
                rec.preservedBytes += o.preservedBytes;
              }
            }
          }
          break;
        case "reset":
          resets.push(e.report);
          break;
        case "resumed":
          resumedAt ??= e.at;
          break;
        case "error":
          errors.push(e);
          break;
        default:
          break;
      }
    }
    const end = resumedAt ?? restoreEnd;
    const blackoutNs =
      end !== undefined && freezeStart !== undefined && end >= freezeStart ? end - freezeStart : undefined;
    return {
      update,
      prepareStart,
      freezeStart,
      restoreEnd:
        freezeStart !== undefined && restoreEnd !== undefined && restoreEnd >= freezeStart
          ? restoreEnd
          : undefined,
      resumedAt: blackoutNs === undefined ? undefined : resumedAt,
      blackoutEnd:
        blackoutNs === undefined ? undefined : resumedAt !== undefined ? "resumed" : "last-restore",
      brownoutNs:
        prepareStart !== undefined && freezeStart !== undefined ? freezeStart - prepareStart : undefined,
      blackoutNs,
      handoverBytes,
      perDriver: [...drivers.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([driver, d]) => ({
          driver,
          calls: d.calls,
          totalNs: d.totalNs,
          byHook: d.byHook,
          objects: d.objects.size,
          dataBytes: d.dataBytes,
          preservedBytes: d.preservedBytes,
        })),
      perObject: [...objects.values()],
      resets,
      errors,
      cancelled,
    };
  }
}

/** Hook events per chunk of {@link HookColumns} (a power of two). */
const HOOK_CHUNK = 1024;
/** Numeric columns of a hook event: seq, update, bootId, start, end. */
const HOOK_NUMBERS = 5;
/** Reference columns of a hook event: hook, owner, driver, session, token, error. */
const HOOK_REFS = 6;

/**
 * Hook events stored column by column in fixed-size chunks, like a trace buffer: thousands per
 * update cost the host a few slots each (no object per event, no array regrowth), and read back as
 * {@link HookEvent}s.
 */
class HookColumns {
  length = 0;
  private readonly numbers: Float64Array[] = [];
  private readonly refs: unknown[][] = [];

  /** Appends one event's columns. */
  push(
    seq: number,
    update: number,
    bootId: number,
    hook: string,
    owner: "object" | "flb",
    driver: string,
    session: string | undefined,
    token: bigint | undefined,
    start: number,
    end: number,
    error: TimelineError | undefined,
  ): void {
    const slot = this.length % HOOK_CHUNK;
    if (slot === 0) {
      this.numbers.push(new Float64Array(HOOK_CHUNK * HOOK_NUMBERS));
      this.refs.push(new Array(HOOK_CHUNK * HOOK_REFS));
    }
    const n = this.numbers[this.numbers.length - 1]!;
    const r = this.refs[this.refs.length - 1]!;
    const a = slot * HOOK_NUMBERS;
    n[a] = seq;
    n[a + 1] = update;
    n[a + 2] = bootId;
    n[a + 3] = start;
    n[a + 4] = end;
    const b = slot * HOOK_REFS;
    r[b] = hook;
    r[b + 1] = owner;
    r[b + 2] = driver;
    r[b + 3] = session;
    r[b + 4] = token;
    r[b + 5] = error;
    this.length++;
  }

  /** `seq` of event `i`. */
  seqOf(i: number): number {
    return this.numbers[Math.floor(i / HOOK_CHUNK)]![(i % HOOK_CHUNK) * HOOK_NUMBERS]!;
  }

  /** Event `i` as an object (keys in the order the orchestrator always used). */
  event(i: number): HookEvent {
    const n = this.numbers[Math.floor(i / HOOK_CHUNK)]!;
    const r = this.refs[Math.floor(i / HOOK_CHUNK)]!;
    const a = (i % HOOK_CHUNK) * HOOK_NUMBERS;
    const b = (i % HOOK_CHUNK) * HOOK_REFS;
    const e: Record<string, unknown> = {
      kind: "hook",
      bootId: n[a + 2],
      hook: r[b],
      owner: r[b + 1],
      driver: r[b + 2],
    };
    if (r[b + 3] !== undefined) e.session = r[b + 3];
    if (r[b + 4] !== undefined) e.token = r[b + 4];
    e.start = n[a + 3];
    e.durationNs = n[a + 4]! - n[a + 3]!;
    e.ok = r[b + 5] === undefined;
    e.at = n[a + 4];
    if (r[b + 5] !== undefined) e.error = r[b + 5];
    e.seq = n[a];
    e.update = n[a + 1];
    return e as unknown as HookEvent;
  }
}
