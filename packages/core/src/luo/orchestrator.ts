import "reflect-metadata";
import { type DependencyContainer, container as rootContainer } from "tsyringe";
import type { Machine } from "../hw/machine.js";
import type { UpdatePhase } from "../hw/scheduler/phase.js";
import type { PhysRange } from "../hw/units.js";
import type { KernelBuild } from "../kernel/build.js";
import type { Kernel, KexecHandoff } from "../kernel/kernel.js";
import type { Kho } from "../kho/kho.js";
import type { KhoFinalizeReport } from "../kho/outgoing.js";
import { NegotiationError } from "../schema/catalog/errors.js";
import { type DriverNegotiationOk, type NegotiationResult, negotiate } from "../schema/catalog/negotiate.js";
import { type BootServices, createBootContainer, type UnitInstance } from "./container.js";
import {
  LuoHookFailedError,
  LuoInjectedFaultError,
  LuoInternalError,
  LuoInvalidArgumentError,
  LuoNegotiationRefusedError,
  LuoNoTargetError,
  LuoOperationRefusedError,
  LuoPhaseError,
  LuoSessionExistsError,
  LuoSessionNotFoundError,
  LuoSessionRetrievedError,
  LuoTargetChangedError,
} from "./errors.js";
import { type GuardView, guardTargets } from "./guard-targets.js";
import { DriverDeclarationError } from "./handlers/errors.js";
import type { PhaseGuardDeclaration } from "./handlers/metadata.js";
import { attachOperationGate } from "./handlers/operation-gate.js";
import type { DriverClass, FlbClass, ResetReport, SerializeAt } from "./handlers/types.js";
import { LUO_SCHEMA, LUO_SESSION_NAME_LENGTH, LUO_SUBTREE } from "./handover-schema.js";
import { HandoverWriter } from "./handover-writer.js";
import {
  byRankThenSeq,
  errorMessage,
  type OutSession,
  type RunHook,
  type UnitRuntime,
  type Where,
} from "./orchestrator-model.js";
import { OutgoingUpdate } from "./outgoing.js";
import { LUO_TRANSITIONS, type LuoPhase, type LuoTransition } from "./phase.js";
import { DriverRegistry, type HandlerUnit } from "./registry.js";
import { IncomingUpdate } from "./restore.js";
import { type IncomingSession, type LuoSession, newLuoSession } from "./session.js";
import { Timeline, type TimelineStep, toTimelineError } from "./timeline.js";
import { TokenMap } from "./token-map.js";

/** Orchestrator settings of one boot. */
export interface LuoOptions {
  /** Default serialization point for handlers that do not set one (default `prepare`). */
  readonly serializeAt?: SerializeAt;
  /**
   * Negotiation policy: handlers allowed a lossy down-migration (`true` = all), besides those that
   * declare `allowLossy` themselves.
   */
  readonly allowLossy?: boolean | readonly string[];
  /**
   * Fault injection for drills, as the kernel's fault-injection framework offers: the first `times`
   * (default 1) invocations of hook `hook` (`prepare`, `serialize`, `freeze`, `restore`, …) of
   * driver `driver` (any driver when omitted) throw {@link LuoInjectedFaultError} instead of
   * running. Counted per boot.
   */
  readonly injectFault?: { readonly hook: string; readonly driver?: string; readonly times?: number };
}

/** What the orchestrator of one boot is built from. */
export interface LuoInit {
  /** The machine. */
  readonly machine: Machine;
  /** The running kernel. */
  readonly kernel: Kernel;
  /** Its KHO. */
  readonly kho: Kho;
  /** The container the per-boot container derives from (default: tsyringe's root container). */
  readonly container?: DependencyContainer;
  /** Settings. */
  readonly options?: LuoOptions;
}

/** Result of {@link Luo.prepare}. */
export interface PrepareReport {
  /** Update cycle number (timeline). */
  readonly update: number;
  /** The negotiated versions. */
  readonly negotiation: NegotiationResult;
  /** Objects prepared. */
  readonly objects: number;
  /** FLBs prepared. */
  readonly flbs: number;
}

/** Result of {@link Luo.freeze}. */
export interface FreezeReport {
  /** Objects (and FLBs) serialized during freeze (strict mode or dirty). */
  readonly serializedAtFreeze: number;
  /** Bytes of the orchestrator's own handover. */
  readonly luoBytes: number;
  /** Bytes of every object's serialized state. */
  readonly dataBytes: number;
  /** KHO's finalize report. */
  readonly kho: KhoFinalizeReport;
}

/** Where a preserved object is (see {@link Luo.whereIs}). */
export interface ObjectLocation {
  /** Session name. */
  readonly session: string;
  /** Token in the session. */
  readonly token: bigint;
  /** `outgoing` (preserved for the next kernel) or `incoming` (restored, session not finished). */
  readonly direction: "outgoing" | "incoming";
}

/** Result of {@link Luo.finish}. */
export interface FinishReport {
  /** Sessions finished. */
  readonly finished: readonly string[];
  /** Sessions whose objects refused (`canFinish` false); they stay open. */
  readonly busy: readonly string[];
}

const textEncoder = new TextEncoder();

/**
 * The update phase the hardware counts device progress in, after each LUO transition: brownout
 * from prepare, blackout from freeze through the reboot and the new kernel's restore (until the
 * resume mark, see `markResumed`), before again after a cancel, after once finished.
 */
const HARDWARE_PHASE: Readonly<Record<LuoTransition["via"], UpdatePhase>> = {
  prepare: "brownout",
  freeze: "blackout",
  reboot: "blackout",
  cancel: "before",
  finish: "after",
};

/**
 * The Live Update Orchestrator of one boot (mirrors upstream LUO): sessions of preserved objects,
 * the update phases NORMAL → PREPARED → FROZEN → (kexec) → UPDATED → NORMAL with CANCEL, hook
 * ordering by the driver dependency graph, phase guards, negotiation, its own handover in the
 * `luo` KHO subtree, restore policies and the timeline.
 *
 * One instance per boot, created by `bootLiveUpdateKernel`; drivers receive it by injection. After
 * the kernel reboots, every method throws `KernelGoneError`.
 *
 * @example
 * ```ts
 * const lk = bootLiveUpdateKernel(machine, { build: v1 });
 * lk.luo.createSession("vm").preserve(1, counter);
 * lk.kernel.kexecLoad(v2);
 * lk.luo.prepare();            // brownout
 * lk.luo.freeze();             // blackout
 * const next = bootLiveUpdateKernel(machine, { ...fromHandoff(lk.luo.reboot()) });
 * next.luo.retrieveSession("vm").retrieve(1);
 * ```
 */
export class Luo {
  /** The machine. */
  readonly machine: Machine;
  /** The kernel of this boot. */
  readonly kernel: Kernel;
  /** This boot's KHO. */
  readonly kho: Kho;
  /** The running build. */
  readonly build: KernelBuild;
  /** The build's drivers and FLBs, validated and ordered. */
  readonly registry: DriverRegistry;
  /** The machine's timeline. */
  readonly timeline: Timeline;
  /** This boot's DI container (drivers are resolved from it). */
  readonly container: DependencyContainer;
  /** The container this boot's container derives from (the next boot derives from it too by default). */
  readonly parentContainer: DependencyContainer;
  /** Settings. */
  readonly options: LuoOptions;

  private phaseValue: LuoPhase = "NORMAL";
  /** Injected faults still to fire this boot. */
  private faultsLeft: number;
  private readonly runtimes = new Map<HandlerUnit, UnitRuntime>();
  private negotiation: NegotiationResult | undefined;
  /** The kexec-loaded build prepare negotiated with (compared by identity). */
  private target: KernelBuild | undefined;
  /** Writes the `luo` subtree (drafted at prepare, patched at freeze). */
  private readonly writer: HandoverWriter;
  /** The incoming side: handover validation, lazy restore, retrieve, finish. */
  private readonly incoming: IncomingUpdate;
  private activeHook: UnitRuntime | undefined;
  /** The outgoing side: sessions, participants and their hooks. */
  private readonly outgoing: OutgoingUpdate;
  /** What `@PhaseGuard` calls consult (see {@link guardTargets}). */
  private readonly guardView: GuardView;

  /**
   * Builds the orchestrator of a freshly booted kernel: validates the build's drivers (graph,
   * compatible strings, hooks), creates the per-boot container and resolves every driver, and — on
   * a handover boot with a `luo` subtree — restores the preserved objects (phase UPDATED).
   * Most callers use `bootLiveUpdateKernel` instead.
   *
   * @param init - machine, kernel, KHO, parent container, settings.
   * @throws Driver errors for an invalid build; `LuoHandoverCorruptError` or
   *   `LuoRestoreAbortedError` when the handover cannot be restored.
   */
  constructor(init: LuoInit) {
    this.machine = init.machine;
    this.kernel = init.kernel;
    this.kho = init.kho;
    this.build = init.kernel.build;
    this.options = Object.freeze({ ...(init.options ?? {}) });
    this.faultsLeft = this.options.injectFault === undefined ? 0 : (this.options.injectFault.times ?? 1);
    this.registry = DriverRegistry.of(this.build);
    this.timeline = Timeline.of(this.machine);
    const services: BootServices = {
      machine: this.machine,
      kernel: this.kernel,
      kho: this.kho,
      build: this.build,
      timeline: this.timeline,
      luo: this,
      luoClass: Luo as never,
    };
    this.parentContainer = init.container ?? rootContainer;
    const { container, instances } = createBootContainer(this.parentContainer, services, this.registry.units);
    this.container = container;
    for (const unit of this.registry.units) {
      const instance = instances.get(unit) as UnitInstance;
      const rt: UnitRuntime = { unit, raw: instance.raw, proxy: instance.proxy };
      this.runtimes.set(unit, rt);
      const gate = {
        enter: (_: object, guard: PhaseGuardDeclaration, args: readonly unknown[]) =>
          this.gate(rt, guard, args),
      };
      attachOperationGate(instance.raw, gate);
      attachOperationGate(instance.proxy, gate);
    }
    const luo = this;
    this.outgoing = new OutgoingUpdate({
      kernel: this.kernel,
      kho: this.kho,
      build: this.build,
      registry: this.registry,
      runtimes: this.runtimes,
      options: this.options,
      get phase() {
        return luo.phaseValue;
      },
      get incomingIndex() {
        return luo.incoming.inIndex;
      },
      alive: (what) => this.alive(what),
      negotiatedFor: (unit) => this.negotiatedFor(unit),
      ensureNegotiated: (unit) => this.ensureNegotiated(unit),
      discardDraft: () => this.writer.discardDraft(),
      recordError: (where, error, who) => this.recordError(where, error, who),
      runHook: this.runHook,
    });
    this.writer = new HandoverWriter({
      kernel: this.kernel,
      kho: this.kho,
      machine: this.machine,
      timeline: this.timeline,
      outSessions: this.outgoing.outSessions,
      flbParticipants: this.outgoing.flbParticipants,
      get negotiation() {
        return luo.negotiation;
      },
      negotiatedFor: (unit) => this.negotiatedFor(unit),
      where: (p) => this.outgoing.where(p),
      recordError: (where, error, who) => this.recordError(where, error, who),
    });

    this.incoming = new IncomingUpdate({
      kernel: this.kernel,
      kho: this.kho,
      machine: this.machine,
      build: this.build,
      registry: this.registry,
      runtimes: this.runtimes,
      timeline: this.timeline,
      get phase() {
        return luo.phaseValue;
      },
      setPhase: (phase) => {
        this.phaseValue = phase;
      },
      alive: (what) => this.alive(what),
      transition: (to, via) => this.transition(to, via),
      step: (step, edge, ok) => this.step(step, edge, ok),
      recordError: (where, error, who) => this.recordError(where, error, who),
      runHook: this.runHook,
      lossyPolicy: (registry) => this.lossyPolicy(registry),
    });
    this.guardView = { outgoing: this.outgoing, incoming: this.incoming, runtimes: this.runtimes };
    this.kernel.addRebootParticipant({
      name: "luo",
      // A reboot during brownout enters blackout from reboot, as the LUO state machine says.
      beforeReboot: () => {
        if (this.phaseValue === "PREPARED") this.freeze();
        else if (this.phaseValue === "FROZEN") this.checkTarget("reboot");
      },
      prepareReboot: () => this.onKernelReboot(),
    });
    if (this.kho.incoming?.subtreeNames().includes(LUO_SUBTREE)) {
      // Drivers adopt their hardware in restore hooks; devices run before and after.
      this.machine.preempt("luo:before-adopt");
      this.incoming.restoreHandover();
      this.machine.preempt("luo:after-adopt");
    }
  }

  /** The current phase. */
  get phase(): LuoPhase {
    this.alive("phase");
    return this.phaseValue;
  }

  /** The negotiated versions of the update in progress (PREPARED, FROZEN). */
  get negotiated(): NegotiationResult | undefined {
    return this.negotiation;
  }

  /** Objects (and FLBs) dropped by the `reset` restore policy during this boot's restore. */
  get resets(): readonly ResetReport[] {
    return this.incoming.resetList;
  }

  /**
   * The instance of a driver (or FLB) class of this build, as consumers receive it (kernel-bound).
   *
   * @throws `DriverDeclarationError` when the class is not part of the build.
   */
  driver<T>(cls: DriverClass<T>): T {
    this.alive("driver");
    const unit = this.registry.unitOf(cls);
    if (unit === undefined) {
      throw new DriverDeclarationError(`${cls.name} is not part of kernel build ${this.build.version}`, {
        driver: cls.name,
        build: this.build.version,
      });
    }
    return this.runtimes.get(unit)!.proxy as T;
  }

  // ---- sessions (outgoing) ----------------------------------------------------------------------

  /**
   * Creates a named outgoing session (upstream `LIVEUPDATE_IOCTL_CREATE_SESSION`).
   *
   * @param name - 1..63 bytes of UTF-8 (it must fit `char[64]` with its NUL).
   * @throws {@link LuoSessionExistsError} (EEXIST), {@link LuoInvalidArgumentError} (EINVAL),
   *   {@link LuoPhaseError} (EBUSY during blackout).
   */
  createSession(name: string): LuoSession {
    this.alive("createSession");
    if (this.phaseValue === "FROZEN")
      throw new LuoPhaseError("createSession", this.phaseValue, { session: name });
    const bytes = typeof name === "string" ? textEncoder.encode(name).length : 0;
    if (bytes === 0 || bytes >= LUO_SESSION_NAME_LENGTH || name.includes("\0")) {
      throw new LuoInvalidArgumentError(
        `session name must be 1..${LUO_SESSION_NAME_LENGTH - 1} bytes without NUL`,
        {
          session: name,
        },
      );
    }
    if (this.outgoing.outSessions.has(name) || this.incoming.inSessions.has(name))
      throw new LuoSessionExistsError(name);
    const session: OutSession = {
      handle: newLuoSession(name, this.outgoing.outOps),
      records: new TokenMap(),
      open: true,
    };
    this.outgoing.outSessions.set(name, session);
    this.writer.discardDraft();
    return session.handle;
  }

  /** The open outgoing session of that name, if any. */
  session(name: string): LuoSession | undefined {
    this.alive("session");
    return this.outgoing.outSessions.get(name)?.handle;
  }

  /** Every open outgoing session, in creation order. */
  sessions(): LuoSession[] {
    this.alive("sessions");
    return [...this.outgoing.outSessions.values()].map((s) => s.handle);
  }

  /**
   * Where `object` is preserved: its outgoing session and token, or (in the new kernel) its
   * incoming session and token until finished.
   */
  whereIs(object: unknown): ObjectLocation | undefined {
    this.alive("whereIs");
    const out = this.outgoing.outIndex.get(object);
    if (out !== undefined)
      return { session: out.session!.handle.name, token: out.token!, direction: "outgoing" };
    const incoming = this.incoming.inIndex.get(object);
    if (incoming !== undefined)
      return { session: incoming.session.name, token: incoming.token, direction: "incoming" };
    return undefined;
  }

  // ---- phases -----------------------------------------------------------------------------------

  /**
   * NORMAL → PREPARED (brownout begins). Negotiates, with the kexec-loaded target build, the version
   * each participating driver (and FLB, and the orchestrator itself) writes; then, in dependency
   * order (providers first), prepares every preserved object — and each FLB before its first user —
   * and serializes it unless it serializes at freeze. On failure everything done is cancelled in
   * reverse order and the kernel is back in NORMAL with every object intact.
   *
   * @throws {@link LuoNoTargetError}, {@link LuoNegotiationRefusedError} (nothing was touched),
   *   {@link LuoHookFailedError} (cancelled), {@link LuoPhaseError}.
   */
  prepare(): PrepareReport {
    this.alive("prepare");
    if (this.phaseValue !== "NORMAL") throw new LuoPhaseError("prepare", this.phaseValue);
    const target = this.kernel.kexecLoaded;
    if (target === undefined) throw new LuoNoTargetError(this.kernel.bootId);
    const update = this.timeline.beginUpdate();
    this.step("prepare", "start");
    const objects = this.outgoing.outgoingRecords();
    try {
      this.negotiation = this.negotiateWith(
        target,
        objects.map((p) => p.rt.unit),
      );
      this.target = target;
    } catch (error) {
      this.step("prepare", "end", false);
      throw error;
    }
    try {
      for (const p of objects.sort(byRankThenSeq)) this.outgoing.prepareObject(p);
    } catch (error) {
      const failure =
        error instanceof LuoHookFailedError ? error : this.outgoing.wrapFailure("prepare", undefined, error);
      this.rollback(`prepare failed: ${failure.message}`);
      this.step("prepare", "end", false);
      throw failure;
    }
    this.transition("PREPARED", "prepare");
    this.writer.buildDraft();
    this.step("prepare", "end", true);
    return {
      update,
      negotiation: this.negotiation!,
      objects: objects.length,
      flbs: this.outgoing.flbParticipants.size,
    };
  }

  /**
   * PREPARED → FROZEN (blackout begins). In reverse dependency order (consumers first, each FLB
   * after its last user) runs every freeze hook and (re-)serializes objects that are dirty or
   * serialize at freeze; then writes the orchestrator's handover into the `luo` subtree and
   * finalizes KHO. On failure everything is cancelled and the kernel is back in NORMAL.
   *
   * @throws {@link LuoHookFailedError} (cancelled), {@link LuoPhaseError}.
   */
  freeze(): FreezeReport {
    this.alive("freeze");
    if (this.phaseValue !== "PREPARED") throw new LuoPhaseError("freeze", this.phaseValue);
    this.checkTarget("freeze");
    this.step("freeze", "start");
    let serializedAtFreeze = 0;
    let report: { luoBytes: number; dataBytes: number; kho: KhoFinalizeReport };
    try {
      const participants = this.outgoing.activeParticipants();
      for (let i = participants.length - 1; i >= 0; i--) {
        const p = participants[i]!;
        this.outgoing.runFreeze(p);
        if (p.dirty || this.outgoing.serializeAt(p) === "freeze" || p.data === undefined) {
          this.outgoing.serialize(p, p.dirty ? "dirty" : "freeze", "FROZEN");
          serializedAtFreeze++;
        }
      }
      this.step("handover", "start");
      report = this.writer.write();
      this.step("handover", "end", true);
    } catch (error) {
      const failure =
        error instanceof LuoHookFailedError ? error : this.outgoing.wrapFailure("freeze", undefined, error);
      this.rollback(`freeze failed: ${failure.message}`);
      this.step("freeze", "end", false);
      throw failure;
    }
    this.transition("FROZEN", "freeze");
    this.step("freeze", "end", true);
    return { serializedAtFreeze, ...report };
  }

  /**
   * CANCEL: PREPARED or FROZEN → NORMAL. Aborts the KHO handover, runs every cancel hook in reverse
   * dependency order, releases serialized state and everything preserved through the orchestrator.
   * Never throws: hook errors are recorded in the timeline. A no-op in NORMAL and UPDATED.
   *
   * @param reason - recorded in cancel contexts.
   */
  cancel(reason = "cancelled by the caller"): void {
    this.alive("cancel");
    if (this.phaseValue === "PREPARED" || this.phaseValue === "FROZEN") this.rollback(reason);
  }

  /**
   * Kexec into the loaded build with a live update: prepares and freezes as needed, then reboots.
   * Boot the returned handoff with `bootLiveUpdateKernel` (or use `kexecIntoNext`, which does both).
   *
   * @throws what {@link Luo.prepare} and {@link Luo.freeze} throw; {@link LuoPhaseError} in UPDATED.
   */
  reboot(): KexecHandoff {
    this.alive("reboot");
    if (this.phaseValue === "UPDATED") {
      throw new LuoPhaseError("reboot", this.phaseValue, { hint: "finish the incoming sessions first" });
    }
    if (this.phaseValue === "NORMAL") this.prepare();
    if (this.phaseValue === "PREPARED") this.freeze();
    else this.checkTarget("reboot");
    this.step("kexec", "start");
    return this.kernel.reboot();
  }

  // ---- sessions (incoming) ----------------------------------------------------------------------

  /**
   * Takes an incoming session by name (upstream `LIVEUPDATE_IOCTL_RETRIEVE_SESSION`); once.
   *
   * @throws {@link LuoSessionNotFoundError} (ENOENT), {@link LuoSessionRetrievedError} (EINVAL, second
   *   retrieve).
   */
  retrieveSession(name: string): IncomingSession {
    this.alive("retrieveSession");
    return this.incoming.retrieveSession(name);
  }

  /**
   * The incoming state of an FLB class of this build, on demand (upstream
   * `liveupdate_flb_get_incoming()`): FLBs are otherwise restored lazily, just before their first
   * user object, so a driver that must own its shared state before any object is retrieved (an
   * IOMMU core adopting the root table at boot or at first IOMMU use) asks for it here. When the
   * handover holds the FLB and it is still pending, its `restore` hook runs now (once); later users
   * only count, and it is finished after its last user as usual.
   *
   * @returns whether the handover held the FLB (`false` on a boot without handover).
   * @throws `DriverDeclarationError` when the class is not an FLB of the build;
   *   {@link LuoFlbUnavailableError} when the handover held it but it is unusable (invalid, failed,
   *   or released at boot because no object needed it); {@link LuoRestoreAbortedError} when its
   *   restore fails now under the `abort` policy; {@link LuoPhaseError} when called while the
   *   orchestrator is still being built (from a driver constructor: the handover is not read yet).
   */
  flbIncoming(cls: FlbClass): boolean {
    this.alive("flbIncoming");
    if (this.incoming === undefined)
      throw new LuoPhaseError("flbIncoming before the handover is read", "boot");
    const unit = this.registry.unitOf(cls);
    if (unit === undefined || unit.kind !== "flb") {
      throw new DriverDeclarationError(`${cls.name} is not an FLB of kernel build ${this.build.version}`, {
        driver: cls.name,
        build: this.build.version,
      });
    }
    return this.incoming.flbIncoming(unit);
  }

  /** Names of the incoming sessions not finished yet (retrieved or not). */
  incomingSessions(): string[] {
    this.alive("incomingSessions");
    return this.incoming.incomingSessions();
  }

  /**
   * FINISH for the whole update: finishes every incoming session not finished yet (retrieved or
   * not). Never throws; sessions that cannot finish yet are reported as busy and stay open.
   */
  finish(): FinishReport {
    this.alive("finish");
    return this.incoming.finish();
  }

  // ---- internals: outgoing ------------------------------------------------------------------------

  private negotiateWith(target: KernelBuild, units: readonly HandlerUnit[]): NegotiationResult {
    let targetRegistry: DriverRegistry;
    try {
      targetRegistry = DriverRegistry.of(target);
    } catch (error) {
      throw new LuoNegotiationRefusedError(
        `cannot update ${this.build.version} -> ${target.version}: the target build is invalid: ${errorMessage(error)}`,
        { runningBuild: this.build.version, targetBuild: target.version },
        { cause: error },
      );
    }
    const names = new Set<string>([LUO_SCHEMA.name]);
    for (const unit of units) {
      names.add(unit.name);
      for (const flb of unit.flbs) names.add(flb.name);
    }
    let result: NegotiationResult;
    try {
      result = negotiate(this.registry.catalog(), targetRegistry.catalog(), {
        drivers: [...names],
        // Write-path lossy steps are ours to allow; read-path ones are the target's (it migrates
        // after kexec with the same rule, see decodeState), assuming it boots with these options.
        policy: { allowLossy: this.lossyPolicy(this.registry) },
        targetPolicy: { allowLossy: this.lossyPolicy(targetRegistry) },
      });
    } catch (error) {
      if (error instanceof NegotiationError) {
        this.recordError("negotiate", error, { driver: String(error.context.driver ?? "luo") });
        throw new LuoNegotiationRefusedError(error.message, { ...error.context }, { cause: error });
      }
      throw error;
    }
    this.timeline.record({
      kind: "negotiated",
      bootId: this.kernel.bootId,
      running: result.running,
      target: result.target,
      drivers: result.drivers.map((d) => ({
        driver: d.driver,
        version: d.version,
        compatible: d.compatible,
      })),
    });
    return result;
  }

  /**
   * The lossy policy of a build under these options: every handler when `allowLossy: true`, else
   * those the options name plus those declaring `allowLossy` themselves.
   */
  private lossyPolicy(registry: DriverRegistry): true | string[] {
    if (this.options.allowLossy === true) return true;
    return [
      ...(Array.isArray(this.options.allowLossy) ? this.options.allowLossy : []),
      ...registry.units.filter((u) => u.meta.allowLossy).map((u) => u.name),
    ];
  }

  /** During brownout, adds a driver that had no object at prepare time to the negotiation. */
  private ensureNegotiated(unit: HandlerUnit): void {
    const names = [unit.name, ...unit.flbs.map((f) => f.name)];
    const current = this.negotiation!;
    if (names.every((n) => current.drivers.some((d) => d.driver === n))) return;
    const target = this.kernel.kexecLoaded;
    if (target === undefined) throw new LuoNoTargetError(this.kernel.bootId);
    if (target !== this.target)
      throw new LuoTargetChangedError("preserve", this.target?.version ?? "?", target.version);
    const extra = this.negotiateWith(target, [unit]);
    const merged = new Map(current.drivers.map((d) => [d.driver, d]));
    for (const d of extra.drivers) merged.set(d.driver, d);
    this.negotiation = {
      ...current,
      drivers: [...merged.values()].sort((a, b) => (a.driver < b.driver ? -1 : 1)),
    };
  }

  private negotiatedFor(unit: HandlerUnit): DriverNegotiationOk {
    const found = this.negotiation?.drivers.find((d) => d.driver === unit.name);
    if (found === undefined) {
      throw new LuoInternalError(`serialize ${unit.name} without a negotiated version`, {
        driver: unit.name,
        phase: this.phaseValue,
      });
    }
    return found;
  }

  /**
   * In PREPARED or FROZEN: when the kexec-loaded build is no longer the one prepare negotiated with,
   * cancels the update and throws {@link LuoTargetChangedError}.
   */
  private checkTarget(operation: string): void {
    if (this.phaseValue !== "PREPARED" && this.phaseValue !== "FROZEN") return;
    const loaded = this.kernel.kexecLoaded;
    if (loaded === this.target) return;
    const error = new LuoTargetChangedError(operation, this.target?.version ?? "?", loaded?.version);
    this.recordError(operation, error, { driver: "luo" });
    this.rollback(error.message);
    throw error;
  }

  /** Undoes the update in progress; never throws. */
  private rollback(reason: string): void {
    this.step("cancel", "start");
    const safe = (where: string, fn: () => void, who: Where = { driver: "luo" }): void => {
      try {
        fn();
      } catch (error) {
        this.recordError(where, error, who);
      }
    };
    if (this.kho.outgoing.isFinalized) safe("kho.abort", () => this.kho.abort());
    if (this.kho.outgoing.subtreeNames().includes(LUO_SUBTREE)) {
      safe("kho.removeSubtree", () => this.kho.outgoing.removeSubtree(LUO_SUBTREE));
    }
    this.writer.release();
    for (const p of this.outgoing.activeParticipants().reverse()) {
      this.outgoing.cancelParticipant(p, reason);
      p.active = false;
      p.users.clear();
    }
    this.outgoing.flbParticipants.clear();
    this.negotiation = undefined;
    this.target = undefined;
    if (this.phaseValue !== "NORMAL") this.transition("NORMAL", "cancel");
    this.step("cancel", "end", true);
  }

  private onKernelReboot(): { keep: PhysRange[] } {
    if (this.phaseValue !== "FROZEN") {
      const count = this.outgoing.outgoingRecords().length;
      if (count > 0) {
        this.timeline.record({
          kind: "warning",
          bootId: this.kernel.bootId,
          message: `reboot without a live update: ${count} preserved object(s) are not handed over`,
        });
      }
    }
    return { keep: [] };
  }

  // ---- phase guards ----------------------------------------------------------------------------

  private gate(rt: UnitRuntime, guard: PhaseGuardDeclaration, args: readonly unknown[]): void {
    this.kernel.assertAlive(`${rt.unit.name}.${guard.operation}`);
    if (this.activeHook === rt) return;
    const { outgoing, incoming } = guardTargets(this.guardView, rt, guard, args);
    const phase = this.phaseValue;
    const first = outgoing.find((p) => p.active);
    if (first !== undefined && (phase === "PREPARED" || phase === "FROZEN")) {
      const where =
        first.kind === "object" ? { session: first.session!.handle.name, token: first.token! } : {};
      if (phase === "FROZEN" || guard.brownout === "refuse") {
        throw new LuoOperationRefusedError(rt.unit.name, guard.operation, phase, where);
      }
      for (const p of outgoing) {
        // Once per participant until it is re-serialized: one event per brownout, not per call.
        if (!p.active || p.dirty) continue;
        p.dirty = true;
        this.timeline.record({
          kind: "dirty",
          bootId: this.kernel.bootId,
          driver: p.rt.unit.name,
          operation: guard.operation,
          ...(p.kind === "object" ? { session: p.session!.handle.name, token: p.token! } : {}),
        });
      }
      return;
    }
    if (incoming.length > 0 && guard.updated === "refuse") {
      const r = incoming[0]!;
      const where = "session" in r ? { session: r.session.name, token: r.token } : {};
      throw new LuoOperationRefusedError(rt.unit.name, guard.operation, "UPDATED", where);
    }
  }

  // ---- internals: incoming -----------------------------------------------------------------------

  /**
   * The VMM model resumed its VMs after retrieving what they need: records the `resumed` event,
   * stamped with the time of this call, the end of the blackout (the timeline's fallback when never
   * marked: the end of the last restore). Objects not retrieved yet are restored later, on retrieve
   * or at finish. Only the first call of a handover boot counts; later calls and calls on a boot
   * without a handover are no-ops.
   *
   * @returns whether this call recorded the mark.
   */
  markResumed(): boolean {
    this.alive("markResumed");
    const marked = this.incoming.markResumed();
    if (marked) this.machine.setUpdatePhase("after");
    return marked;
  }

  // ---- shared helpers -----------------------------------------------------------------------------

  private alive(what: string): void {
    this.kernel.assertAlive(`luo.${what}`);
  }

  private transition(to: LuoPhase, via: LuoTransition["via"]): void {
    const from = this.phaseValue;
    if (!LUO_TRANSITIONS.some((t) => t.from === from && t.to === to && t.via === via)) {
      throw new LuoInternalError(`phase transition ${from} -> ${to} via ${via} is not in LUO_TRANSITIONS`, {
        from,
        to,
        via,
      });
    }
    this.phaseValue = to;
    this.machine.setUpdatePhase(HARDWARE_PHASE[via]);
    this.timeline.record({ kind: "phase", bootId: this.kernel.bootId, from, to, via });
  }

  private step(step: TimelineStep, edge: "start" | "end", ok?: boolean): void {
    this.timeline.record({
      kind: "step",
      bootId: this.kernel.bootId,
      step,
      edge,
      ...(ok === undefined ? {} : { ok }),
    });
  }

  private recordError(where: string, error: unknown, who: Where): void {
    this.timeline.record({
      kind: "error",
      bootId: this.kernel.bootId,
      where,
      ...who,
      error: toTimelineError(error),
    });
  }

  /** The {@link RunHook} of this orchestrator. */
  /** Throws the injected fault when `hook` of `driver` matches `options.injectFault`. */
  private injectFault(hook: string, driver: string): void {
    const fault = this.options.injectFault!;
    if (fault.hook !== hook || (fault.driver !== undefined && fault.driver !== driver)) return;
    this.faultsLeft--;
    throw new LuoInjectedFaultError(hook, driver);
  }

  private readonly runHook: RunHook = (rt, hook, where, fn, a, b) => {
    const clock = this.timeline.clock;
    const start = clock.now();
    const previous = this.activeHook;
    this.activeHook = rt;
    let ok = false;
    let failure: unknown;
    try {
      if (this.faultsLeft > 0) this.injectFault(hook, where.driver ?? rt.unit.name);
      const result = fn(a as Parameters<typeof fn>[0], b as Parameters<typeof fn>[1]);
      ok = true;
      return result;
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      this.activeHook = previous;
      const end = clock.now();
      // Recorded column-wise, without an event object: this runs once per object and hook.
      const session = where.session;
      this.timeline.recordHook(
        this.kernel.bootId,
        hook,
        session === undefined ? "flb" : "object",
        where.driver ?? rt.unit.name,
        session,
        where.token,
        start,
        end,
        ok ? undefined : toTimelineError(failure),
      );
      // Between any two hooks of any object the devices run (a preemption point).
      this.machine.preempt("luo:between-hooks");
    }
  };
}
