import type { DependencyContainer } from "tsyringe";
import { Machine } from "../hw/machine.js";
import type { KernelBuild } from "../kernel/build.js";
import type { KexecHandoff } from "../kernel/kernel.js";
import { bootLiveUpdateKernel, type LiveUpdateKernel } from "../luo/boot.js";
import { LuoObjectResetError } from "../luo/errors.js";
import type { DriverClass } from "../luo/handlers/types.js";
import type { FinishReport, FreezeReport, LuoOptions, PrepareReport } from "../luo/orchestrator.js";
import type { IncomingSession, LuoSession, PreserveOptions } from "../luo/session.js";
import type { Timeline, TimelineEvent, UpdateSummary } from "../luo/timeline.js";
import { HarnessStateError } from "./errors.js";
import { type LuoHandoverImage, readLuoHandover } from "./handover-image.js";

/** Default session name of {@link LiveUpdateHarness.preserve}. */
export const DEFAULT_SESSION = "default";

/** How to set up a {@link LiveUpdateHarness}. */
export interface HarnessOptions {
  /** The build the machine boots first ("build A"). */
  readonly from: KernelBuild;
  /** The build {@link LiveUpdateHarness.update} kexecs into ("build B"; default: `from`). */
  readonly to?: KernelBuild;
  /** RAM of the machine (bytes or `"512M"`; default `"512M"`). */
  readonly memory?: number | string;
  /** Seed of the first boot; boot *n* uses `seed + n - 1` (default 1), so runs are reproducible. */
  readonly seed?: number;
  /** Use the machine's manual clock (hooks then take 0 ns; default: real clock). */
  readonly manualClock?: boolean;
  /**
   * Poison memory that is neither preserved nor handover data when a kernel kexecs (default
   * `true`, the kernel's default): a driver that forgot to preserve a page sees `0x6b` bytes.
   */
  readonly poison?: boolean;
  /** Parent of every boot's DI container (register test services here). */
  readonly container?: DependencyContainer;
  /** Orchestrator settings of every boot. */
  readonly luo?: LuoOptions;
}

/** Options of one {@link LiveUpdateHarness.update}. */
export interface UpdateOptions {
  /** Build to kexec into (default: the harness's `to`). */
  readonly to?: KernelBuild;
  /**
   * Runs during brownout (phase PREPARED), before freeze: change preserved objects here through
   * `@PhaseGuard({ brownout: "dirty" })` operations to exercise re-serialization at freeze.
   */
  readonly brownout?: (kernel: LiveUpdateKernel) => void;
  /**
   * Runs in blackout (phase FROZEN) after the handover was written and KHO finalized, just before
   * the reboot: inspect the old kernel's final state here (preserved folios, freeze report).
   */
  readonly frozen?: (kernel: LiveUpdateKernel, report: FreezeReport) => void;
  /**
   * Runs after the old kernel rebooted and before the new one boots, with a map of the LUO
   * handover in memory: inspect it, or play a hostile old kernel by corrupting bytes.
   */
  readonly beforeBoot?: (handover: LuoHandoverImage, machine: Machine) => void;
  /** Orchestrator settings of the new boot (default: the harness's `luo`). */
  readonly luo?: LuoOptions;
  /**
   * What the VMs need before they resume, as the VMM model retrieves it after the new kernel
   * booted: `"all"` (default: every object of every incoming session, in handover order), or the
   * tokens per session name (`{}`: nothing — resume right away). The harness retrieves them, then
   * marks the VMs resumed (`Luo.markResumed`, the end of the blackout). Objects not retrieved stay
   * pending (restored on a later retrieve or at finish). Objects dropped by the `reset` policy
   * are skipped; a retrieve failing under `abort` fails the update.
   */
  readonly needs?: "all" | Readonly<Record<string, readonly (number | bigint)[]>>;
}

/** What one {@link LiveUpdateHarness.update} returns: both kernels, the reports and the timeline. */
export interface UpdateResult {
  /** The kernel that was updated (gone now: its APIs throw `KernelGoneError`). */
  readonly previous: LiveUpdateKernel;
  /** The new kernel (phase `UPDATED` until every session is finished). */
  readonly kernel: LiveUpdateKernel;
  /** Update cycle number in the machine's timeline. */
  readonly update: number;
  /** The prepare report (negotiated versions, object and FLB counts). */
  readonly prepare: PrepareReport;
  /** The freeze report (bytes of the handover, objects serialized at freeze, KHO report). */
  readonly freeze: FreezeReport;
  /** What crossed the kexec (build, command line, boot data, poisoned bytes). */
  readonly handoff: KexecHandoff;
  /** The LUO handover as it was in memory before the new kernel booted (after `beforeBoot`). */
  readonly handover: LuoHandoverImage;
  /** Brownout, blackout, bytes and per-driver/per-object totals of this update. */
  readonly summary: UpdateSummary;
  /** The machine's timeline (spans both kernels). */
  readonly timeline: Timeline;
  /** The events of this update cycle, oldest first. */
  readonly events: readonly TimelineEvent[];
  /** The incoming session `name` (retrieved on first use, then cached). */
  session(name?: string): IncomingSession;
  /**
   * The restored object of `token` in session `session` (default {@link DEFAULT_SESSION}).
   *
   * @throws `LuoSessionNotFoundError`, `LuoTokenNotFoundError`, `LuoObjectResetError` (ENOENT).
   */
  restored<T = unknown>(token: number | bigint, session?: string): T;
  /** Finishes every incoming session (the new kernel goes back to NORMAL); never throws. */
  finish(): FinishReport;
}

/**
 * The testkit's update harness: a machine booted on build A, on which a test creates objects and
 * preserves them in LUO sessions, then one call updates to build B — kexec-load, prepare
 * (brownout), freeze (blackout), reboot with poisoning, boot B, restore — and returns the new
 * kernel, the restored objects and the timeline.
 *
 * Every boot gets a fresh DI container and fresh driver instances; objects of the old kernel stay
 * readable as plain JS values, but their kernel's APIs throw after the update.
 *
 * @example
 * ```ts
 * const h = LiveUpdateHarness.boot({ from: buildA, to: buildB });
 * const rings = h.driver(CounterRingDriver);
 * const ring = rings.create({ capacity: 8 });
 * h.preserve(1, ring);
 * const r = h.update({ brownout: () => rings.increment(ring, 5) });
 * const back = r.restored<CounterRing>(1);
 * expect(r.kernel.driver(CounterRingDriver).read(back)).toEqual([5]);
 * expect(r.summary.blackoutNs).toBeGreaterThan(0);
 * ```
 */
export class LiveUpdateHarness {
  /** The machine (survives every kexec). */
  readonly machine: Machine;
  /** The settings. */
  readonly options: HarnessOptions;
  private current: LiveUpdateKernel | undefined;
  private prepared: { kernel: LiveUpdateKernel; report: PrepareReport } | undefined;
  private boots = 0;
  private failure: unknown;

  private constructor(options: HarnessOptions) {
    this.options = options;
    this.machine = new Machine({
      memory: options.memory ?? "512M",
      ...(options.manualClock !== undefined ? { manualClock: options.manualClock } : {}),
    });
  }

  /**
   * Creates the machine and boots build `from` (cold boot, `kho=on`).
   *
   * @param options - builds, machine, seed, poisoning, DI parent, orchestrator settings.
   * @throws driver declaration/graph errors of the build.
   */
  static boot(options: HarnessOptions): LiveUpdateHarness {
    const harness = new LiveUpdateHarness(options);
    harness.current = bootLiveUpdateKernel(harness.machine, harness.bootOptions(options.from));
    return harness;
  }

  /**
   * The running kernel.
   *
   * @throws {@link HarnessStateError} when the last boot failed (the failure is the cause).
   */
  get kernel(): LiveUpdateKernel {
    if (this.current === undefined) {
      throw new HarnessStateError("no running kernel: the last boot failed", {}, { cause: this.failure });
    }
    return this.current;
  }

  /** The machine's timeline (spans every boot). */
  get timeline(): Timeline {
    return this.kernel.timeline;
  }

  /** The running kernel's instance of a driver (or FLB) class of its build. */
  driver<T>(cls: DriverClass<T>): T {
    return this.kernel.driver(cls);
  }

  /** The outgoing session `name` of the running kernel, created on first use. */
  session(name: string = DEFAULT_SESSION): LuoSession {
    const luo = this.kernel.luo;
    return luo.session(name) ?? luo.createSession(name);
  }

  /**
   * Preserves `object` under `token` in a session of the running kernel (default session
   * {@link DEFAULT_SESSION}, created on first use).
   *
   * @returns the object, for chaining.
   * @throws what `LuoSession.preserve` throws (`EEXIST`, `ENOENT` no handler, `EBUSY`).
   */
  preserve<T>(token: number | bigint, object: T, options: PreserveOptions & { session?: string } = {}): T {
    const { session, ...preserveOptions } = options;
    this.session(session).preserve(token, object, preserveOptions);
    return object;
  }

  /**
   * One live update of the running kernel into `options.to` (default: the harness's `to`): kexec
   * load, prepare (or continue from PREPARED if the test prepared already), `brownout`, freeze,
   * reboot with poisoning, `beforeBoot`, boot of the new kernel (which validates the handover),
   * retrieval of what the VMs `needs` (restore is lazy: objects are restored when retrieved), and
   * the resume mark. The harness then runs on the new kernel.
   *
   * @param options - target build, brownout and before-boot callbacks, poisoning, LUO settings.
   * @throws what prepare and freeze throw (the old kernel is then back in NORMAL, still running);
   *   what the new kernel's boot or the retrieval of `needs` throws (e.g. `LuoRestoreAbortedError`;
   *   the harness then has no running kernel).
   */
  update(options: UpdateOptions = {}): UpdateResult {
    const previous = this.kernel;
    const target = options.to ?? this.options.to ?? this.options.from;
    const luo = previous.luo;
    let prepare: PrepareReport;
    if (luo.phase === "PREPARED") {
      if (this.prepared?.kernel !== previous) {
        throw new HarnessStateError("the kernel was prepared outside the harness: use h.prepare()", {});
      }
      prepare = this.prepared.report;
    } else {
      previous.kernel.kexecLoad(target);
      prepare = luo.prepare();
    }
    this.prepared = undefined;
    try {
      options.brownout?.(previous);
    } catch (error) {
      luo.cancel(`brownout callback threw: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
    const freeze = luo.freeze();
    const update = previous.timeline.update;
    try {
      options.frozen?.(previous, freeze);
    } catch (error) {
      luo.cancel(`frozen callback threw: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
    const handoff = luo.reboot();
    if (handoff.bootData === undefined) {
      throw new HarnessStateError("the reboot carried no KHO handover (is kho=on?)", {
        build: handoff.build.version,
      });
    }
    this.current = undefined;
    const handover = readLuoHandover(this.machine, handoff.bootData);
    options.beforeBoot?.(handover, this.machine);
    let kernel: LiveUpdateKernel;
    try {
      kernel = bootLiveUpdateKernel(this.machine, {
        ...this.bootOptions(handoff.build, options.luo ?? luo.options),
        cmdline: handoff.cmdline,
        bootData: handoff.bootData,
      });
    } catch (error) {
      this.failure = error;
      throw error;
    }
    const sessions = new Map<string, IncomingSession>();
    const session = (name: string = DEFAULT_SESSION): IncomingSession => {
      let s = sessions.get(name);
      if (s === undefined) {
        s = kernel.luo.retrieveSession(name);
        sessions.set(name, s);
      }
      return s;
    };
    try {
      const needs = options.needs ?? "all";
      const wanted: [string, readonly (number | bigint)[]][] =
        needs === "all"
          ? kernel.luo.incomingSessions().map((name) => [name, session(name).tokens()])
          : Object.entries(needs);
      for (const [name, tokens] of wanted) {
        const s = session(name);
        for (const token of tokens) {
          try {
            s.retrieve(token);
          } catch (error) {
            if (!(error instanceof LuoObjectResetError)) throw error;
          }
        }
      }
      kernel.luo.markResumed();
    } catch (error) {
      this.failure = error;
      throw error;
    }
    this.current = kernel;
    const timeline = kernel.timeline;
    return {
      previous,
      kernel,
      update,
      prepare,
      freeze,
      handoff,
      handover,
      summary: timeline.summary(update),
      timeline,
      events: timeline.eventsOf(update),
      session,
      restored: <T>(token: number | bigint, name?: string): T => session(name).retrieve(token) as T,
      finish: () => {
        // Sessions retrieved through the harness are finished through their handles.
        for (const s of sessions.values()) if (!s.finished) s.finish();
        return kernel.luo.finish();
      },
    };
  }

  /**
   * Starts an update by hand: kexec-loads `to` (default: the harness's `to`) and prepares (NORMAL →
   * PREPARED, brownout). Continue with {@link LiveUpdateHarness.update} or cancel with
   * `h.kernel.luo.cancel()`.
   *
   * @throws what `Luo.prepare` throws (negotiation refused, a failing hook; the kernel stays NORMAL).
   */
  prepare(to?: KernelBuild): PrepareReport {
    const lk = this.kernel;
    lk.kernel.kexecLoad(to ?? this.options.to ?? this.options.from);
    const report = lk.luo.prepare();
    this.prepared = { kernel: lk, report };
    return report;
  }

  private bootOptions(
    build: KernelBuild,
    luoOptions?: LuoOptions,
  ): Parameters<typeof bootLiveUpdateKernel>[1] {
    this.boots++;
    const poison = this.options.poison;
    const luo = luoOptions ?? this.options.luo;
    return {
      build,
      seed: (this.options.seed ?? 1) + this.boots - 1,
      ...(poison !== undefined ? { poisonOnReboot: poison } : {}),
      ...(this.options.container !== undefined ? { container: this.options.container } : {}),
      ...(luo !== undefined ? { luo } : {}),
    };
  }
}
