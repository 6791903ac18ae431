import "reflect-metadata";
import { type DependencyContainer, container as rootContainer } from "tsyringe";
import type {
  FlbHookContext,
  ObjectHookContext,
  PreserveApi,
  PreservedFolio,
  RestoreApi,
} from "../driver/contexts.js";
import { DriverDeclarationError } from "../driver/errors.js";
import { flbHookOf, hookOf } from "../driver/hook-guards.js";
import type { PhaseGuardDeclaration } from "../driver/metadata.js";
import { attachOperationGate } from "../driver/operation-gate.js";
import type { DriverClass, ResetReport, SerializeAt } from "../driver/types.js";
import type { Machine } from "../hw/machine.js";
import type { PhysAddr, PhysRange } from "../hw/units.js";
import type { KernelBuild } from "../kernel/build.js";
import type { Kernel, KexecHandoff } from "../kernel/kernel.js";
import { FdtBuilder } from "../kho/fdt/builder.js";
import type { Kho } from "../kho/kho.js";
import type { KhoFinalizeReport } from "../kho/outgoing.js";
import { NegotiationError } from "../schema/catalog/errors.js";
import { type DriverNegotiationOk, type NegotiationResult, negotiate } from "../schema/catalog/negotiate.js";
import { codecFor } from "../schema/codec/codec.js";
import type { AnyStruct } from "../schema/declare/types.js";
import { layoutOf } from "../schema/layout/describe.js";
import { parseCompatibleString } from "../schema/versions/compatible.js";
import { type BootServices, createBootContainer, type UnitInstance } from "./container.js";
import {
  LuoError,
  LuoFlbUnavailableError,
  LuoFolioNotOwnedError,
  LuoHandoverCorruptError,
  LuoHookFailedError,
  LuoInternalError,
  LuoInvalidArgumentError,
  LuoNegotiationRefusedError,
  LuoNoHandlerError,
  LuoNoTargetError,
  LuoObjectBusyError,
  LuoObjectResetError,
  LuoOperationRefusedError,
  LuoPhaseError,
  LuoRestoreAbortedError,
  LuoSessionBusyError,
  LuoSessionClosedError,
  LuoSessionExistsError,
  LuoSessionFinishedError,
  LuoSessionNotFoundError,
  LuoSessionRetrievedError,
  LuoTargetChangedError,
  LuoTokenExistsError,
  LuoTokenNotFoundError,
} from "./errors.js";
import {
  LUO_FILE_RESET_ALLOWED,
  LUO_FOLIO_DATA,
  LUO_SCHEMA,
  LUO_SESSION_NAME_LENGTH,
  LUO_SUBTREE,
  type LuoFileRecord,
  LuoFileV1,
  type LuoFlbRecord,
  LuoFlbV1,
  LuoHandoverV1,
  type LuoHandoverValue,
  LuoSessionV1,
} from "./handover-schema.js";
import { folioBytes, HandoverReader, PreservedArena, pagesToFolios } from "./memory.js";
import { LUO_TRANSITIONS, type LuoPhase, type LuoTransition } from "./phase.js";
import { DriverRegistry, type HandlerUnit } from "./registry.js";
import {
  type IncomingObjectStatus,
  type IncomingSession,
  type IncomingSessionOps,
  type LuoSession,
  newIncomingSession,
  newLuoSession,
  normalizeToken,
  type OutgoingSessionOps,
  type PreserveOptions,
} from "./session.js";
import { type HandoverObjectBytes, Timeline, type TimelineStep, toTimelineError } from "./timeline.js";

/** Orchestrator settings of one boot. */
export interface LuoOptions {
  /** Default serialization point for handlers that do not set one (default `prepare`). */
  readonly serializeAt?: SerializeAt;
  /**
   * Negotiation policy: handlers allowed a lossy down-migration (`true` = all), besides those that
   * declare `allowLossy` themselves.
   */
  readonly allowLossy?: boolean | readonly string[];
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

interface UnitRuntime {
  readonly unit: HandlerUnit;
  readonly raw: object;
  readonly proxy: object;
}

interface OutSession {
  readonly handle: LuoSession;
  readonly records: Map<bigint, OutParticipant>;
  open: boolean;
}

interface OutParticipant {
  readonly kind: "object" | "flb";
  readonly rt: UnitRuntime;
  readonly seq: number;
  readonly session?: OutSession;
  readonly token?: bigint;
  readonly object?: unknown;
  readonly users: Set<OutParticipant>;
  active: boolean;
  prepared: boolean;
  frozen: boolean;
  dirty: boolean;
  data: { arena: PreservedArena; phys: number; version: number } | undefined;
  folios: PreservedFolio[];
  /** Bumped whenever what the handover lists for it changes (state re-serialized, folio preserved). */
  revision: number;
}

/**
 * The orchestrator's handover as encoded at the end of prepare, so that freeze only re-encodes the
 * records of participants that changed since (O(dirty)). Dropped (full write at freeze) when the
 * set of sessions or participants changes during brownout.
 */
interface HandoverDraft {
  readonly arena: PreservedArena;
  /** Physical address of the root `luo_ser`. */
  readonly phys: number;
  /** Per participant: its `luo_file` / `luo_flb` struct and the revision encoded there. */
  readonly entries: Map<OutParticipant, { readonly addr: number; revision: number }>;
  /** Per participant: its bytes for the `handover` timeline event (patched with the record). */
  readonly accounts: Map<OutParticipant, HandoverObjectBytes>;
}

interface FolioRecord {
  readonly phys: number;
  readonly order: number;
  readonly data: boolean;
}

interface InRecord {
  readonly session: InSession;
  readonly token: bigint;
  readonly compatible: string;
  readonly index: number;
  readonly resetAllowed: boolean;
  folios: readonly FolioRecord[];
  readonly dataPhys: number;
  readonly rt: UnitRuntime | undefined;
  readonly version: number;
  status: IncomingObjectStatus;
  object: unknown;
  invalid: string | undefined;
  reason: string | undefined;
  /** The `LuoRestoreAbortedError` of a `failed` object (rethrown by every retrieve). */
  error: unknown;
  /** Whether it counts as a user of its FLBs (pending or restored, not finished, reset or failed). */
  flbUser: boolean;
  readonly restored: Set<number>;
}

interface InSession {
  readonly name: string;
  readonly records: Map<bigint, InRecord>;
  handle: IncomingSession | undefined;
  finished: boolean;
}

interface InFlb {
  readonly compatible: string;
  readonly resetAllowed: boolean;
  folios: readonly FolioRecord[];
  readonly dataPhys: number;
  readonly rt: UnitRuntime | undefined;
  readonly version: number;
  status: "pending" | "restored" | "reset" | "finished";
  /** Objects still needing it: pending or restored, not yet finished, reset or failed. */
  users: number;
  invalid: string | undefined;
  error: unknown;
  readonly restored: Set<number>;
}

type Where = { driver: string; session?: string; token?: bigint };

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const textEncoder = new TextEncoder();

function fieldOffset(struct: AnyStruct, field: string): number {
  const layout = layoutOf(struct).structs.find((x) => x.name === struct.name)!;
  return layout.fields.find((f) => f.name === field)!.offset;
}

/** Offsets in `luo-v1` the freeze-time patching of a drafted handover needs. */
const LUO_V1_LAYOUT = {
  rootSessions: fieldOffset(LuoHandoverV1, "sessions"),
  rootFlbs: fieldOffset(LuoHandoverV1, "flbs"),
  sessionSize: layoutOf(LuoSessionV1).size,
  sessionFiles: fieldOffset(LuoSessionV1, "files"),
  fileSize: layoutOf(LuoFileV1).size,
  flbSize: layoutOf(LuoFlbV1).size,
};
const LUO_FILE_CODEC = codecFor(LuoFileV1, { driver: "luo", version: 1 });
const LUO_FLB_CODEC = codecFor(LuoFlbV1, { driver: "luo", version: 1 });

function errorCode(error: unknown): string {
  return toTimelineError(error).code;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

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
  private readonly runtimes = new Map<HandlerUnit, UnitRuntime>();
  private readonly outSessions = new Map<string, OutSession>();
  private readonly outIndex = new Map<unknown, OutParticipant>();
  private readonly flbParticipants = new Map<HandlerUnit, OutParticipant>();
  private seq = 0;
  private negotiation: NegotiationResult | undefined;
  /** The kexec-loaded build prepare negotiated with (compared by identity). */
  private target: KernelBuild | undefined;
  private handoverArena: PreservedArena | undefined;
  /** The handover encoded at prepare, patched at freeze (see {@link HandoverDraft}). */
  private draft: HandoverDraft | undefined;
  private readonly inSessions = new Map<string, InSession>();
  private readonly finishedSessions = new Map<string, InSession>();
  private readonly retrievedNames = new Set<string>();
  private readonly inIndex = new Map<unknown, InRecord>();
  private readonly inFlbs = new Map<HandlerUnit, InFlb>();
  /** FLBs of the handover no handler of this build takes (reset at restore). */
  private readonly unknownFlbs: InFlb[] = [];
  private readonly resetList: ResetReport[] = [];
  private activeHook: UnitRuntime | undefined;
  private resumed = false;
  private readonly outOps: OutgoingSessionOps;
  private readonly inOps: IncomingSessionOps;

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
    this.outOps = this.makeOutgoingOps();
    this.inOps = this.makeIncomingOps();
    this.kernel.addRebootParticipant({
      name: "luo",
      // A reboot during brownout enters blackout from reboot, as the LUO state machine says.
      beforeReboot: () => {
        if (this.phaseValue === "PREPARED") this.freeze();
        else if (this.phaseValue === "FROZEN") this.checkTarget("reboot");
      },
      prepareReboot: () => this.onKernelReboot(),
    });
    if (this.kho.incoming?.subtreeNames().includes(LUO_SUBTREE)) this.restoreHandover();
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
    return this.resetList;
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
    if (this.outSessions.has(name) || this.inSessions.has(name)) throw new LuoSessionExistsError(name);
    const session: OutSession = { handle: newLuoSession(name, this.outOps), records: new Map(), open: true };
    this.outSessions.set(name, session);
    this.discardDraft();
    return session.handle;
  }

  /** The open outgoing session of that name, if any. */
  session(name: string): LuoSession | undefined {
    this.alive("session");
    return this.outSessions.get(name)?.handle;
  }

  /** Every open outgoing session, in creation order. */
  sessions(): LuoSession[] {
    this.alive("sessions");
    return [...this.outSessions.values()].map((s) => s.handle);
  }

  /**
   * Where `object` is preserved: its outgoing session and token, or (in the new kernel) its
   * incoming session and token until finished.
   */
  whereIs(object: unknown): ObjectLocation | undefined {
    this.alive("whereIs");
    const out = this.outIndex.get(object);
    if (out !== undefined)
      return { session: out.session!.handle.name, token: out.token!, direction: "outgoing" };
    const incoming = this.inIndex.get(object);
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
    const objects = this.outgoingRecords();
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
      for (const p of objects.sort(byRankThenSeq)) this.prepareObject(p);
    } catch (error) {
      const failure =
        error instanceof LuoHookFailedError ? error : this.wrapFailure("prepare", undefined, error);
      this.rollback(`prepare failed: ${failure.message}`);
      this.step("prepare", "end", false);
      throw failure;
    }
    this.transition("PREPARED", "prepare");
    this.buildDraft();
    this.step("prepare", "end", true);
    return {
      update,
      negotiation: this.negotiation!,
      objects: objects.length,
      flbs: this.flbParticipants.size,
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
      for (const p of this.activeParticipants().reverse()) {
        this.runFreeze(p);
        if (p.dirty || this.serializeAt(p) === "freeze" || p.data === undefined) {
          this.serialize(p, p.dirty ? "dirty" : "freeze", "FROZEN");
          serializedAtFreeze++;
        }
      }
      this.step("handover", "start");
      report = this.draft !== undefined ? this.patchHandover(this.draft) : this.writeHandover();
      this.step("handover", "end", true);
    } catch (error) {
      const failure =
        error instanceof LuoHookFailedError ? error : this.wrapFailure("freeze", undefined, error);
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
    if (this.retrievedNames.has(name)) throw new LuoSessionRetrievedError(name);
    const session = this.inSessions.get(name);
    if (session === undefined) throw new LuoSessionNotFoundError(name);
    this.retrievedNames.add(name);
    session.handle = newIncomingSession(name, this.inOps);
    return session.handle;
  }

  /** Names of the incoming sessions not finished yet (retrieved or not). */
  incomingSessions(): string[] {
    this.alive("incomingSessions");
    return [...this.inSessions.keys()];
  }

  /**
   * FINISH for the whole update: finishes every incoming session not finished yet (retrieved or
   * not). Never throws; sessions that cannot finish yet are reported as busy and stay open.
   */
  finish(): FinishReport {
    this.alive("finish");
    const finished: string[] = [];
    const busy: string[] = [];
    for (const session of [...this.inSessions.values()]) {
      try {
        this.finishSession(session);
        finished.push(session.name);
      } catch (error) {
        busy.push(session.name);
        this.recordError("finish", error, { driver: "luo", session: session.name });
      }
    }
    return { finished, busy };
  }

  // ---- internals: outgoing ------------------------------------------------------------------------

  private makeOutgoingOps(): OutgoingSessionOps {
    const find = (handle: LuoSession): OutSession => {
      this.alive("session");
      const s = this.outSessions.get(handle.name);
      if (s === undefined || s.handle !== handle) {
        throw new LuoSessionClosedError(handle.name);
      }
      return s;
    };
    const tokenOf = (session: string, token: number | bigint): bigint => {
      const t = normalizeToken(token);
      if (t === undefined) {
        throw new LuoInvalidArgumentError(`token ${String(token)} is not a u64`, { session, token });
      }
      return t;
    };
    return {
      preserve: (handle, token, object, options) =>
        this.preserve(find(handle), tokenOf(handle.name, token), object, options),
      unpreserve: (handle, token) => this.unpreserve(find(handle), tokenOf(handle.name, token)),
      close: (handle) => this.closeSession(find(handle)),
      tokens: (handle) => [...find(handle).records.keys()],
      object: (handle, token) => {
        const s = find(handle);
        const t = tokenOf(handle.name, token);
        const p = s.records.get(t);
        if (p === undefined) throw new LuoTokenNotFoundError(handle.name, t);
        return p.object;
      },
      isOpen: (handle) => {
        this.alive("session");
        return this.outSessions.get(handle.name)?.handle === handle;
      },
    };
  }

  private preserve(session: OutSession, token: bigint, object: unknown, options: PreserveOptions): void {
    const name = session.handle.name;
    if (this.phaseValue === "FROZEN")
      throw new LuoPhaseError("preserve", this.phaseValue, { session: name, token });
    if ((typeof object !== "object" && typeof object !== "function") || object === null) {
      throw new LuoInvalidArgumentError(`session "${name}" token ${token}: only objects can be preserved`, {
        session: name,
        token,
      });
    }
    if (session.records.has(token)) throw new LuoTokenExistsError(name, token);
    const existing = this.outIndex.get(object);
    if (existing !== undefined) {
      throw new LuoObjectBusyError(existing.session!.handle.name, existing.token!, existing.rt.unit.name);
    }
    if (this.inIndex.has(object)) {
      const r = this.inIndex.get(object)!;
      throw new LuoObjectBusyError(r.session.name, r.token, r.rt?.unit.name ?? r.compatible);
    }
    const rt = this.handlerOf(name, token, object, options);
    const p: OutParticipant = {
      kind: "object",
      rt,
      seq: this.seq++,
      session,
      token,
      object,
      users: new Set(),
      active: false,
      prepared: false,
      frozen: false,
      dirty: false,
      data: undefined,
      folios: [],
      revision: 0,
    };
    session.records.set(token, p);
    this.outIndex.set(object, p);
    if (this.phaseValue !== "PREPARED") return;
    // Brownout: join the update in progress (the handover drafted at prepare no longer lists every object).
    this.discardDraft();
    try {
      this.ensureNegotiated(rt.unit);
      this.prepareObject(p);
    } catch (error) {
      const failure = error instanceof LuoError ? error : this.wrapFailure("prepare", p, error);
      this.dropParticipant(p, `preserve failed: ${failure.message}`);
      throw failure;
    }
  }

  private unpreserve(session: OutSession, token: bigint): void {
    const name = session.handle.name;
    if (this.phaseValue === "FROZEN")
      throw new LuoPhaseError("unpreserve", this.phaseValue, { session: name, token });
    const p = session.records.get(token);
    if (p === undefined) throw new LuoTokenNotFoundError(name, token);
    this.dropParticipant(p, `session "${name}" token ${token} unpreserved`);
  }

  private closeSession(session: OutSession): void {
    const name = session.handle.name;
    if (this.phaseValue === "FROZEN")
      throw new LuoPhaseError("closeSession", this.phaseValue, { session: name });
    const records = [...session.records.values()].sort(byRankThenSeq).reverse();
    for (const p of records) this.dropParticipant(p, `session "${name}" closed`);
    this.outSessions.delete(name);
    this.discardDraft();
  }

  /** Removes an object from its session, cancelling it (and FLBs it was the last user of) if prepared. */
  private dropParticipant(p: OutParticipant, reason: string): void {
    this.discardDraft();
    if (p.active) {
      this.cancelParticipant(p, reason);
      p.active = false;
      for (const flbUnit of p.rt.unit.flbs) {
        const flb = this.flbParticipants.get(flbUnit);
        if (flb === undefined) continue;
        flb.users.delete(p);
        if (flb.users.size === 0) {
          this.cancelParticipant(flb, `${reason} (last user of FLB ${flbUnit.name})`);
          flb.active = false;
          this.flbParticipants.delete(flbUnit);
        }
      }
    }
    p.session!.records.delete(p.token!);
    this.outIndex.delete(p.object);
  }

  private handlerOf(session: string, token: bigint, object: unknown, options: PreserveOptions): UnitRuntime {
    if (options.driver !== undefined) {
      const unit = this.registry.unitOf(options.driver);
      if (unit === undefined || unit.kind !== "driver") {
        throw new LuoNoHandlerError(
          session,
          token,
          `${options.driver.name ?? String(options.driver)} is not a driver of kernel build ${this.build.version}`,
        );
      }
      const rt = this.runtimes.get(unit)!;
      const check = hookOf(rt.raw, "canPreserve");
      if (check !== undefined && !this.runHook(rt, "canPreserve", { session, token }, () => check(object))) {
        throw new LuoNoHandlerError(
          session,
          token,
          `${unit.name} cannot preserve this object (canPreserve said no)`,
        );
      }
      return rt;
    }
    for (const unit of this.registry.drivers) {
      const rt = this.runtimes.get(unit)!;
      const check = hookOf(rt.raw, "canPreserve");
      if (check !== undefined && this.runHook(rt, "canPreserve", { session, token }, () => check(object)))
        return rt;
    }
    throw new LuoNoHandlerError(session, token, "no driver of the build can preserve this object");
  }

  private outgoingRecords(): OutParticipant[] {
    const out: OutParticipant[] = [];
    for (const s of this.outSessions.values()) out.push(...s.records.values());
    return out;
  }

  private activeParticipants(): OutParticipant[] {
    const list: OutParticipant[] = [...this.flbParticipants.values()];
    for (const p of this.outgoingRecords()) if (p.active) list.push(p);
    return list.sort(byRankThenSeq);
  }

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

  private serializeAt(p: OutParticipant): SerializeAt {
    return p.rt.unit.meta.serializeAt ?? this.options.serializeAt ?? "prepare";
  }

  private flbParticipant(unit: HandlerUnit): OutParticipant {
    let flb = this.flbParticipants.get(unit);
    if (flb === undefined) {
      flb = {
        kind: "flb",
        rt: this.runtimes.get(unit)!,
        seq: this.seq++,
        users: new Set(),
        active: true,
        prepared: false,
        frozen: false,
        dirty: false,
        data: undefined,
        folios: [],
        revision: 0,
      };
      this.flbParticipants.set(unit, flb);
    }
    return flb;
  }

  private prepareObject(p: OutParticipant): void {
    p.active = true;
    for (const flbUnit of p.rt.unit.flbs) {
      const flb = this.flbParticipant(flbUnit);
      flb.users.add(p);
      if (!flb.prepared) this.prepareParticipant(flb);
    }
    this.prepareParticipant(p);
  }

  private prepareParticipant(p: OutParticipant): void {
    const negotiated = this.negotiatedFor(p.rt.unit);
    const base = { version: negotiated.version, compatible: negotiated.compatible, ...this.preserveApi(p) };
    if (p.kind === "object") {
      const hook = hookOf(p.rt.raw, "prepare");
      if (hook !== undefined) {
        const ctx = { ...this.objectContext(p, "PREPARED"), ...base };
        this.guarded("prepare", p, () => hook(p.object, ctx));
      }
    } else {
      const hook = flbHookOf(p.rt.raw, "prepare");
      if (hook !== undefined) {
        const ctx = { ...this.flbContext(p, "PREPARED"), ...base };
        this.guarded("prepare", p, () => hook(ctx));
      }
    }
    p.prepared = true;
    if (this.serializeAt(p) === "prepare") this.serialize(p, "prepare", "PREPARED");
  }

  private runFreeze(p: OutParticipant): void {
    if (p.kind === "object") {
      const hook = hookOf(p.rt.raw, "freeze");
      if (hook !== undefined) {
        // Built without spreads: this runs once per object inside the blackout.
        const api = this.preserveApi(p);
        const ctx = {
          driver: p.rt.unit.name,
          session: p.session!.handle.name,
          token: p.token!,
          phase: "FROZEN" as const,
          preserveFolio: api.preserveFolio,
          preservePages: api.preservePages,
          get preserved(): readonly PreservedFolio[] {
            return p.folios;
          },
        };
        this.guarded("freeze", p, () => hook(p.object, ctx));
      }
    } else {
      const hook = flbHookOf(p.rt.raw, "freeze");
      if (hook !== undefined) {
        const ctx = { ...this.flbContext(p, "FROZEN"), ...this.preserveApi(p) };
        this.guarded("freeze", p, () => hook(ctx));
      }
    }
    p.frozen = true;
  }

  private serialize(p: OutParticipant, reason: "prepare" | "freeze" | "dirty", phase: LuoPhase): void {
    const negotiated = this.negotiatedFor(p.rt.unit);
    const extra = { version: negotiated.version, compatible: negotiated.compatible, reason };
    let value: unknown;
    if (p.kind === "object") {
      const hook = hookOf(p.rt.raw, "serialize")!;
      const ctx = { ...this.objectContext(p, phase), ...extra };
      value = this.guarded("serialize", p, () => hook(p.object, ctx));
    } else {
      const hook = flbHookOf(p.rt.raw, "serialize")!;
      const ctx = { ...this.flbContext(p, phase), ...extra };
      value = this.guarded("serialize", p, () => hook(ctx));
    }
    p.dirty = false;
    this.guarded("encode", p, () => {
      const schema = p.rt.unit.meta.schema;
      const migrated = schema.migrate(value as never, p.rt.unit.meta.native, negotiated.version, {
        allowLossy: negotiated.writeLossy,
      }).value;
      const arena = new PreservedArena(this.kernel, this.kho);
      let phys: number;
      try {
        phys = schema.version(negotiated.version).codec.store(migrated as never, arena);
      } catch (error) {
        arena.release();
        throw error;
      }
      const previous = p.data;
      p.data = { arena, phys, version: negotiated.version };
      p.revision++;
      previous?.arena.release();
    });
  }

  private preserveApi(p: OutParticipant): PreserveApi {
    const kho = this.kho;
    return {
      preserveFolio(phys: PhysAddr, order: number): void {
        kho.preserveFolio(phys, order);
        p.folios.push({ phys, order });
        p.revision++;
      },
      preservePages(phys: PhysAddr, nrPages: number): void {
        const folios = pagesToFolios(phys, nrPages);
        const done: PreservedFolio[] = [];
        try {
          for (const f of folios) {
            kho.preserveFolio(f.phys, f.order);
            done.push(f);
          }
        } catch (error) {
          for (const f of done.reverse()) kho.unpreserveFolio(f.phys, f.order);
          throw error;
        }
        p.folios.push(...done);
        p.revision++;
      },
      get preserved(): readonly PreservedFolio[] {
        return p.folios;
      },
    };
  }

  private objectContext(p: OutParticipant, phase: LuoPhase): ObjectHookContext {
    return { driver: p.rt.unit.name, session: p.session!.handle.name, token: p.token!, phase };
  }

  private flbContext(p: OutParticipant, phase: LuoPhase): FlbHookContext {
    return { flb: p.rt.unit.name, users: p.users.size, phase };
  }

  private where(p: OutParticipant): Where {
    return p.kind === "object"
      ? { driver: p.rt.unit.name, session: p.session!.handle.name, token: p.token! }
      : { driver: p.rt.unit.name };
  }

  /** Runs a hook (or encode) of an outgoing participant, timed; failures become {@link LuoHookFailedError}. */
  private guarded<T>(hook: string, p: OutParticipant, fn: () => T): T {
    try {
      return this.runHook(
        p.rt,
        hook,
        p.kind === "object" ? { session: p.session!.handle.name, token: p.token! } : {},
        fn,
      );
    } catch (error) {
      throw this.wrapFailure(hook, p, error);
    }
  }

  private wrapFailure(hook: string, p: OutParticipant | undefined, error: unknown): LuoHookFailedError {
    if (error instanceof LuoHookFailedError) return error;
    const where = p === undefined ? { driver: "luo" } : this.where(p);
    return new LuoHookFailedError(hook, { ...where, phase: this.phaseValue }, error);
  }

  /** The `luo_file` record of an object (or `luo_flb` of an FLB, without token) as the handover lists it. */
  private recordOf(p: OutParticipant): LuoFileRecord | LuoFlbRecord {
    const compatible = this.negotiatedFor(p.rt.unit).compatible;
    const folios = [
      ...(p.data?.arena.folios ?? []).map((f) => ({
        phys: BigInt(f.phys),
        order: f.order,
        flags: LUO_FOLIO_DATA,
      })),
      ...p.folios.map((f) => ({ phys: BigInt(f.phys), order: f.order, flags: 0 })),
    ];
    const common = {
      compatible,
      data: BigInt(p.data?.phys ?? 0),
      flags: p.rt.unit.meta.restorePolicy === "reset" ? LUO_FILE_RESET_ALLOWED : 0,
      folios,
    };
    return p.kind === "object" ? { token: p.token!, ...common } : common;
  }

  private accountOf(p: OutParticipant): HandoverObjectBytes {
    let preservedBytes = 0;
    for (const f of p.folios) preservedBytes += folioBytes(f.order);
    return {
      ...this.where(p),
      compatible: this.negotiatedFor(p.rt.unit).compatible,
      dataBytes: p.data?.arena.bytes ?? 0,
      preservedBytes,
    };
  }

  /** The whole handover value, sessions in creation order, records in dependency order. */
  private handoverValue(): { value: LuoHandoverValue; order: OutParticipant[] } {
    const order: OutParticipant[] = [];
    const value: LuoHandoverValue = {
      sessions: [...this.outSessions.values()].map((s) => ({
        name: s.handle.name,
        files: [...s.records.values()].sort(byRankThenSeq).map((p) => {
          order.push(p);
          return this.recordOf(p) as LuoFileRecord;
        }),
      })),
      flbs: [...this.flbParticipants.values()].sort(byRankThenSeq).map((p) => {
        order.push(p);
        return this.recordOf(p) as LuoFlbRecord;
      }),
    };
    return { value, order };
  }

  /**
   * End of prepare: encodes the handover as it stands (objects serialized at freeze get a null data
   * pointer for now), so freeze only re-encodes what changed. Only for the latest `luo` version (an
   * older negotiated one is written whole at freeze). Never fails the prepare: without a draft,
   * freeze writes the handover whole.
   */
  private buildDraft(): void {
    this.discardDraft();
    const negotiatedLuo = this.negotiation!.drivers.find((d) => d.driver === LUO_SCHEMA.name)!;
    if (negotiatedLuo.version !== LUO_SCHEMA.latest) return;
    const { value, order } = this.handoverValue();
    const arena = new PreservedArena(this.kernel, this.kho);
    let phys: number;
    try {
      phys = LUO_SCHEMA.version(negotiatedLuo.version).codec.store(value as never, arena);
    } catch (error) {
      this.recordError("handover draft", error, { driver: "luo" });
      arena.release();
      return;
    }
    // Locate every record: root → sessions[] → files[], root → flbs[] (layout offsets of luo-v1).
    const memory = this.machine.memory;
    const entries = new Map<OutParticipant, { addr: number; revision: number }>();
    const accounts = new Map<OutParticipant, HandoverObjectBytes>();
    const sessionsBase = Number(memory.readU64(phys + LUO_V1_LAYOUT.rootSessions));
    const flbsBase = Number(memory.readU64(phys + LUO_V1_LAYOUT.rootFlbs));
    let next = 0;
    value.sessions.forEach((session, i) => {
      const filesBase = Number(
        memory.readU64(sessionsBase + i * LUO_V1_LAYOUT.sessionSize + LUO_V1_LAYOUT.sessionFiles),
      );
      for (let j = 0; j < session.files.length; j++) {
        const p = order[next++]!;
        entries.set(p, { addr: filesBase + j * LUO_V1_LAYOUT.fileSize, revision: p.revision });
        accounts.set(p, this.accountOf(p));
      }
    });
    for (let j = 0; j < value.flbs.length; j++) {
      const p = order[next++]!;
      entries.set(p, { addr: flbsBase + j * LUO_V1_LAYOUT.flbSize, revision: p.revision });
      accounts.set(p, this.accountOf(p));
    }
    this.draft = { arena, phys, entries, accounts };
    this.handoverArena = arena;
  }

  /** Forgets the handover drafted at prepare (the participants changed); freeze writes it whole. */
  private discardDraft(): void {
    const draft = this.draft;
    if (draft === undefined) return;
    this.draft = undefined;
    if (this.handoverArena === draft.arena) this.handoverArena = undefined;
    try {
      draft.arena.release();
    } catch (error) {
      this.recordError("release", error, { driver: "luo" });
    }
  }

  /** Freeze with a draft: re-encodes only the records whose participant changed since prepare. */
  private patchHandover(draft: HandoverDraft): {
    luoBytes: number;
    dataBytes: number;
    kho: KhoFinalizeReport;
  } {
    const memory = this.machine.memory;
    for (const [p, entry] of draft.entries) {
      if (entry.revision === p.revision) continue;
      const codec = p.kind === "object" ? LUO_FILE_CODEC : LUO_FLB_CODEC;
      // The record's folio list goes to fresh arena space; the old one stays unreferenced in it.
      memory.write(entry.addr, codec.encode(this.recordOf(p) as never, draft.arena));
      entry.revision = p.revision;
      draft.accounts.set(p, this.accountOf(p));
    }
    return this.publishHandover(draft.arena, draft.phys, [...draft.accounts.values()]);
  }

  /** Writes the `luo` subtree whole and finalizes KHO. */
  private writeHandover(): { luoBytes: number; dataBytes: number; kho: KhoFinalizeReport } {
    const negotiatedLuo = this.negotiation!.drivers.find((d) => d.driver === LUO_SCHEMA.name)!;
    const { value, order } = this.handoverValue();
    const arena = new PreservedArena(this.kernel, this.kho);
    this.handoverArena = arena;
    const migrated = LUO_SCHEMA.migrate(value, LUO_SCHEMA.latest, negotiatedLuo.version).value;
    const phys = LUO_SCHEMA.version(negotiatedLuo.version).codec.store(migrated as never, arena);
    return this.publishHandover(
      arena,
      phys,
      order.map((p) => this.accountOf(p)),
    );
  }

  /** Publishes the `luo` subtree pointing at the encoded handover and finalizes KHO. */
  private publishHandover(
    arena: PreservedArena,
    phys: number,
    objects: HandoverObjectBytes[],
  ): { luoBytes: number; dataBytes: number; kho: KhoFinalizeReport } {
    const negotiatedLuo = this.negotiation!.drivers.find((d) => d.driver === LUO_SCHEMA.name)!;
    const folios = arena.folios;
    const list = new Uint8Array(folios.length * 16);
    const view = new DataView(list.buffer);
    folios.forEach((f, i) => {
      view.setBigUint64(i * 16, BigInt(f.phys), true);
      view.setUint32(i * 16 + 8, f.order, true);
    });
    const fdt = new FdtBuilder()
      .beginNode("")
      .propString("compatible", negotiatedLuo.compatible)
      .propU64le("luo-data", BigInt(phys))
      .propBytes("luo-folios", list)
      .endNode()
      .finish();
    this.kho.publishSubtree(LUO_SUBTREE, fdt);
    const kho = this.kho.finalize();
    const dataBytes = objects.reduce((a, o) => a + o.dataBytes, 0);
    const preservedBytes = objects.reduce((a, o) => a + o.preservedBytes, 0);
    this.timeline.record({
      kind: "handover",
      bootId: this.kernel.bootId,
      luoBytes: arena.bytes,
      dataBytes,
      preservedBytes,
      khoPreservedBytes: kho.preservedBytes,
      objects,
    });
    return { luoBytes: arena.bytes, dataBytes, kho };
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
    if (this.handoverArena !== undefined) {
      const arena = this.handoverArena;
      safe("release", () => arena.release());
      this.handoverArena = undefined;
    }
    this.draft = undefined;
    for (const p of this.activeParticipants().reverse()) {
      this.cancelParticipant(p, reason);
      p.active = false;
      p.users.clear();
    }
    this.flbParticipants.clear();
    this.negotiation = undefined;
    this.target = undefined;
    if (this.phaseValue !== "NORMAL") this.transition("NORMAL", "cancel");
    this.step("cancel", "end", true);
  }

  /** Runs the cancel hook of a prepared participant and releases its memory; never throws. */
  private cancelParticipant(p: OutParticipant, reason: string): void {
    const who = this.where(p);
    if (p.prepared) {
      try {
        if (p.kind === "object") {
          const hook = hookOf(p.rt.raw, "cancel");
          if (hook !== undefined) {
            const ctx = { ...this.objectContext(p, this.phaseValue), frozen: p.frozen, reason };
            this.runHook(p.rt, "cancel", who, () => hook(p.object, ctx));
          }
        } else {
          const hook = flbHookOf(p.rt.raw, "cancel");
          if (hook !== undefined) {
            const ctx = { ...this.flbContext(p, this.phaseValue), frozen: p.frozen, reason };
            this.runHook(p.rt, "cancel", who, () => hook(ctx));
          }
        }
      } catch (error) {
        this.recordError("cancel", error, who);
      }
    }
    if (p.data !== undefined) {
      const arena = p.data.arena;
      try {
        arena.release();
      } catch (error) {
        this.recordError("release", error, who);
      }
    }
    for (const f of [...p.folios].reverse()) {
      try {
        this.kho.unpreserveFolio(f.phys, f.order);
      } catch (error) {
        this.recordError("unpreserve", error, who);
      }
    }
    p.folios = [];
    p.data = undefined;
    p.revision++;
    p.prepared = false;
    p.frozen = false;
    p.dirty = false;
  }

  private onKernelReboot(): { keep: PhysRange[] } {
    if (this.phaseValue !== "FROZEN") {
      const count = this.outgoingRecords().length;
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
    const target = guard.target(args);
    const outgoing: OutParticipant[] = [];
    const incoming: (InRecord | InFlb)[] = [];
    if (target !== undefined) {
      const out = this.outIndex.get(target);
      if (out !== undefined && out.rt === rt) outgoing.push(out);
      const inc = this.inIndex.get(target);
      if (inc !== undefined && inc.rt === rt && inc.status === "restored") incoming.push(inc);
    } else if (rt.unit.kind === "flb") {
      const flb = this.flbParticipants.get(rt.unit);
      if (flb !== undefined) outgoing.push(flb);
      const inc = this.inFlbs.get(rt.unit);
      if (inc !== undefined && inc.status === "restored") incoming.push(inc);
    } else {
      for (const p of this.outgoingRecords()) if (p.rt === rt) outgoing.push(p);
      for (const r of this.inIndex.values()) if (r.rt === rt && r.status === "restored") incoming.push(r);
    }
    const phase = this.phaseValue;
    const first = outgoing.find((p) => p.active);
    if (first !== undefined && (phase === "PREPARED" || phase === "FROZEN")) {
      const where =
        first.kind === "object" ? { session: first.session!.handle.name, token: first.token! } : {};
      if (phase === "FROZEN" || guard.brownout === "refuse") {
        throw new LuoOperationRefusedError(rt.unit.name, guard.operation, phase, where);
      }
      for (const p of outgoing) {
        if (!p.active) continue;
        p.dirty = true;
        this.timeline.record({
          kind: "dirty",
          bootId: this.kernel.bootId,
          driver: rt.unit.name,
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

  private makeIncomingOps(): IncomingSessionOps {
    const find = (handle: IncomingSession): InSession => {
      this.alive("session");
      const s = this.inSessions.get(handle.name) ?? this.finishedSessions.get(handle.name);
      if (s === undefined || s.handle !== handle) throw new LuoSessionNotFoundError(handle.name);
      return s;
    };
    const record = (s: InSession, token: number | bigint): InRecord => {
      const t = normalizeToken(token);
      if (t === undefined)
        throw new LuoInvalidArgumentError(`token ${String(token)} is not a u64`, { session: s.name, token });
      const r = s.records.get(t);
      if (r === undefined) throw new LuoTokenNotFoundError(s.name, t);
      return r;
    };
    return {
      retrieve: (handle, token) => {
        const r = record(find(handle), token);
        if (r.status === "pending") this.restoreOnRetrieve(r);
        if (r.status === "failed") throw r.error;
        if (r.status === "reset") {
          throw new LuoObjectResetError(
            r.session.name,
            r.token,
            r.rt?.unit.name ?? r.compatible,
            r.reason ?? "",
          );
        }
        return r.object;
      },
      tokens: (handle) => [...find(handle).records.keys()],
      status: (handle, token) => record(find(handle), token).status,
      finish: (handle) => {
        const s = find(handle);
        if (s.finished) throw new LuoSessionFinishedError(s.name);
        this.finishSession(s);
      },
      isFinished: (handle) => find(handle).finished,
    };
  }

  private finishSession(s: InSession): void {
    this.step("finish", "start");
    // Restore-then-finish: objects never retrieved are restored now, so their drivers tear them down
    // through their usual hooks. A failure resets (or fails) the object; it is recorded, not thrown.
    for (const r of this.pendingInOrder(s)) {
      try {
        this.restoreOnRetrieve(r);
      } catch (error) {
        this.recordError("finish", error, {
          driver: r.rt?.unit.name ?? r.compatible,
          session: s.name,
          token: r.token,
        });
      }
    }
    const records = [...s.records.values()]
      .filter((r) => r.status === "restored")
      .sort((a, b) => b.rt!.unit.rank - a.rt!.unit.rank || b.index - a.index);
    for (const r of records) {
      const rt = r.rt!;
      const check = hookOf(rt.raw, "canFinish");
      if (check === undefined) continue;
      let ok: boolean;
      let cause: unknown;
      try {
        ok = this.runHook(rt, "canFinish", { session: s.name, token: r.token }, () =>
          check(r.object, this.inContext(r)),
        );
      } catch (error) {
        ok = false;
        cause = error;
      }
      if (!ok) {
        this.step("finish", "end", false);
        const error = new LuoSessionBusyError(s.name, r.token, rt.unit.name);
        if (cause !== undefined) (error as { cause?: unknown }).cause = cause;
        throw error;
      }
    }
    for (const r of records) {
      const rt = r.rt!;
      const hook = hookOf(rt.raw, "finish");
      const who = { driver: rt.unit.name, session: s.name, token: r.token };
      if (hook !== undefined) {
        try {
          this.runHook(rt, "finish", who, () => hook(r.object, this.inContext(r)));
        } catch (error) {
          this.recordError("finish", error, who);
        }
      }
      r.status = "finished";
      this.inIndex.delete(r.object);
      this.leaveFlbs(r);
    }
    for (const r of s.records.values()) {
      if (r.status !== "failed") continue;
      this.timeline.record({
        kind: "warning",
        bootId: this.kernel.bootId,
        message: `session "${s.name}" finished with a failed object: its preserved memory stays reserved`,
        driver: r.rt?.unit.name ?? r.compatible,
        session: s.name,
        token: r.token,
      });
    }
    s.finished = true;
    this.inSessions.delete(s.name);
    this.finishedSessions.set(s.name, s);
    this.step("finish", "end", true);
    if (this.inSessions.size === 0 && this.phaseValue === "UPDATED") this.transition("NORMAL", "finish");
  }

  /** An object stops needing its FLBs (finished, reset or failed). */
  private leaveFlbs(r: InRecord): void {
    if (!r.flbUser) return;
    r.flbUser = false;
    for (const flbUnit of r.rt!.unit.flbs) this.flbUserGone(flbUnit);
  }

  /**
   * One user of an FLB is gone; after the last, a restored FLB is finished and one never restored
   * (every user reset or failed) is released.
   */
  private flbUserGone(flbUnit: HandlerUnit): void {
    const flb = this.inFlbs.get(flbUnit);
    if (flb === undefined || flb.users === 0) return;
    flb.users--;
    if (flb.users > 0) return;
    if (flb.status === "pending") {
      this.restoreFlbIfUnused(flbUnit.name, flb);
      return;
    }
    if (flb.status !== "restored") return;
    const rt = flb.rt!;
    const hook = flbHookOf(rt.raw, "finish");
    if (hook !== undefined) {
      try {
        this.runHook(rt, "finish", {}, () => hook({ flb: rt.unit.name, users: 0, phase: this.phaseValue }));
      } catch (error) {
        this.recordError("finish", error, { driver: rt.unit.name });
      }
    }
    flb.status = "finished";
  }

  private inContext(r: InRecord): ObjectHookContext {
    return { driver: r.rt!.unit.name, session: r.session.name, token: r.token, phase: this.phaseValue };
  }

  /**
   * Reads and validates the `luo` subtree (new kernel): records, compatible strings, folio lists,
   * double claims. Objects the handover is invalid for (no handler, corrupt record, an FLB missing
   * or invalid) meet their restore policy now — `abort` fails the boot, `reset` drops them; every
   * other object stays pending until retrieved (lazy restore, as upstream), FLBs until their first
   * user is restored.
   */
  private restoreHandover(): void {
    // The old kernel left FROZEN; this boot continues its state machine from there.
    this.phaseValue = "FROZEN";
    this.transition("UPDATED", "reboot");
    this.step("kexec", "end", true);
    this.step("restore", "start");
    try {
      const { value: header, own } = this.readHandover();
      const records = this.indexHandover(header, own);
      const bad = (r: InRecord): boolean =>
        r.rt === undefined ||
        r.invalid !== undefined ||
        r.rt.unit.flbs.some((u) => {
          const flb = this.inFlbs.get(u);
          return flb === undefined || flb.invalid !== undefined;
        });
      for (const r of records.sort(byRankThenIndex)) {
        if (bad(r)) this.restoreRecord(r);
      }
      for (const r of records) {
        if (r.status !== "pending") continue;
        r.flbUser = true;
        for (const u of r.rt!.unit.flbs) this.inFlbs.get(u)!.users++;
      }
      for (const flb of this.unknownFlbs) this.restoreFlbIfUnused(flb.compatible, flb);
      for (const [unit, flb] of this.inFlbs) {
        if (flb.users > 0) continue;
        if (flb.status === "pending") this.restoreFlbIfUnused(unit.name, flb);
        else if (flb.status === "restored") {
          // Restored for an object that then failed at boot, and needed by no other.
          flb.users = 1;
          this.flbUserGone(unit);
        }
      }
    } catch (error) {
      this.step("restore", "end", false);
      throw error;
    }
    this.step("restore", "end", true);
    if (this.inSessions.size === 0) this.transition("NORMAL", "finish");
  }

  /** Pending objects of a session in restore order (providers first). */
  private pendingInOrder(s: InSession): InRecord[] {
    return [...s.records.values()].filter((r) => r.status === "pending").sort(byRankThenIndex);
  }

  /**
   * Lazy restore of a pending object on its first retrieve: first the pending objects of the same
   * session whose drivers it depends on (providers restore before their consumers), then it.
   *
   * @throws {@link LuoRestoreAbortedError} when its restore fails under `abort` (it is then `failed`).
   */
  private restoreOnRetrieve(r: InRecord): void {
    const unit = r.rt?.unit;
    if (unit !== undefined && unit.dependencies.length > 0) {
      const providers = new Set<HandlerUnit>();
      const visit = (u: HandlerUnit): void => {
        for (const d of u.dependencies) {
          if (providers.has(d)) continue;
          providers.add(d);
          visit(d);
        }
      };
      visit(unit);
      for (const other of this.pendingInOrder(r.session)) {
        if (other !== r && other.rt !== undefined && providers.has(other.rt.unit))
          this.restoreOnRetrieve(other);
      }
    }
    if (r.status !== "pending") return;
    try {
      this.restoreRecord(r);
    } catch (error) {
      if (!(error instanceof LuoRestoreAbortedError)) throw error;
      const aborted = new LuoRestoreAbortedError(
        error.message,
        { ...error.context, at: "retrieve" },
        { cause: (error as { cause?: unknown }).cause },
      );
      r.status = "failed";
      r.error = aborted;
      r.reason = errorMessage(aborted);
      this.recordError("retrieve", aborted, {
        driver: unit?.name ?? r.compatible,
        session: r.session.name,
        token: r.token,
      });
      this.leaveFlbs(r);
      throw aborted;
    }
  }

  /**
   * The VMM model resumed its VMs after retrieving what they need: records the `resumed` event,
   * the end of the blackout (the timeline's fallback when never marked: the end of the last
   * restore). Objects not retrieved yet are restored later, on retrieve or at finish. Only the
   * first call of a handover boot counts; later calls and calls on a boot without a handover are
   * no-ops.
   *
   * @returns whether this call recorded the mark.
   */
  markResumed(): boolean {
    this.alive("markResumed");
    if (this.resumed || this.kho.incoming?.subtreeNames().includes(LUO_SUBTREE) !== true) return false;
    this.resumed = true;
    let restored = 0;
    let pending = 0;
    for (const s of [...this.inSessions.values(), ...this.finishedSessions.values()]) {
      for (const r of s.records.values()) {
        if (r.status === "pending") pending++;
        else if (r.status === "restored" || r.status === "finished") restored++;
      }
    }
    this.timeline.record({ kind: "resumed", bootId: this.kernel.bootId, restored, pending });
    return true;
  }

  /**
   * Reads and decodes the `luo` subtree, then restores and frees the orchestrator's own folios and
   * the subtree blob; returns the decoded value and those (now freed) ranges, which no object may
   * claim.
   */
  private readHandover(): { value: LuoHandoverValue; own: PhysRange[] } {
    const corrupt = (message: string, context: Record<string, unknown> = {}, cause?: unknown): never => {
      throw new LuoHandoverCorruptError(
        `luo handover: ${message}`,
        { driver: "luo", ...context },
        cause === undefined ? undefined : { cause },
      );
    };
    const incoming = this.kho.incoming!;
    let subtree: ReturnType<Kho["retrieveSubtree"]>;
    try {
      subtree = this.kho.retrieveSubtree(LUO_SUBTREE);
    } catch (error) {
      return corrupt(`subtree "${LUO_SUBTREE}" cannot be retrieved: ${errorMessage(error)}`, {}, error);
    }
    const root = subtree.tree.root;
    let compatible: string;
    let dataPhys: bigint;
    let folioBytesList: Uint8Array;
    try {
      compatible = root.getString("compatible");
      dataPhys = root.getU64le("luo-data");
      folioBytesList = root.getBytes("luo-folios");
    } catch (error) {
      return corrupt(
        `subtree properties missing or malformed: ${errorMessage(error)}`,
        { field: "compatible" },
        error,
      );
    }
    const parsed = parseCompatibleString(compatible);
    if (parsed === undefined || parsed.driver !== LUO_SCHEMA.name || !LUO_SCHEMA.has(parsed.version)) {
      corrupt(
        `unknown compatible "${compatible}" (this build reads ${LUO_SCHEMA.versions.map((v) => v.compatible).join(", ")})`,
        {
          field: "compatible",
          compatible,
        },
      );
    }
    if (
      folioBytesList.length % 16 !== 0 ||
      folioBytesList.length === 0 ||
      folioBytesList.length > 16 * 65536
    ) {
      corrupt("luo-folios is not a list of 16-byte entries", {
        field: "luo-folios",
        length: folioBytesList.length,
      });
    }
    const view = new DataView(folioBytesList.buffer, folioBytesList.byteOffset, folioBytesList.byteLength);
    const arena: { phys: number; order: number }[] = [];
    for (let i = 0; i < folioBytesList.length; i += 16) {
      const phys = view.getBigUint64(i, true);
      const order = view.getUint32(i + 8, true);
      if (
        phys > MAX_SAFE ||
        view.getUint32(i + 12, true) !== 0 ||
        incoming.preservedOrderAt(Number(phys)) !== order
      ) {
        corrupt(`luo-folios[${i / 16}] is not a preserved folio of that order`, {
          field: `luo-folios[${i / 16}]`,
          phys,
          order,
        });
      }
      arena.push({ phys: Number(phys), order });
    }
    if (dataPhys > MAX_SAFE) corrupt("luo-data beyond 2^53", { field: "luo-data", phys: dataPhys });
    const reader = new HandoverReader(
      this.machine.memory,
      arena.map((f) => ({ base: f.phys, size: folioBytes(f.order) })),
    );
    let value: LuoHandoverValue;
    try {
      const decoded = LUO_SCHEMA.version(parsed!.version).codec.load(reader, Number(dataPhys));
      // The codec checked every invariant while decoding: an identity migration need not validate again.
      value = LUO_SCHEMA.migrate(decoded as never, parsed!.version, LUO_SCHEMA.latest, {
        validate: parsed!.version !== LUO_SCHEMA.latest,
      }).value as LuoHandoverValue;
    } catch (error) {
      return corrupt(
        `cannot decode ${compatible}: ${errorMessage(error)}`,
        { field: (error as { context?: { path?: string } }).context?.path },
        error,
      );
    }
    // The orchestrator's own pages are no longer needed once decoded.
    const own: PhysRange[] = [];
    for (const f of arena) {
      this.releaseIncoming(f.phys, f.order);
      own.push({ base: f.phys, size: folioBytes(f.order) });
    }
    const subtreeOrder = incoming.preservedOrderAt(subtree.phys) ?? 0;
    this.releaseIncoming(subtree.phys, subtreeOrder);
    own.push({ base: subtree.phys, size: Math.max(folioBytes(subtreeOrder), subtree.bytes.length) });
    return { value, own };
  }

  private releaseIncoming(phys: number, order: number): number {
    try {
      this.kho.restoreFolio(phys, order);
      this.kernel.freePages(phys, order);
      return folioBytes(order);
    } catch (error) {
      this.recordError("release", error, { driver: "luo" });
      return 0;
    }
  }

  /**
   * Builds the incoming sessions and FLB records; validates folio ownership. `own` are the
   * orchestrator's own handover ranges (already restored and freed): any object folio overlapping
   * them makes that object invalid, as does a folio claimed twice.
   */
  private indexHandover(header: LuoHandoverValue, own: readonly PhysRange[]): InRecord[] {
    const incoming = this.kho.incoming!;
    const luoOwner: { invalid: string | undefined } = { invalid: undefined };
    const claims: { base: number; size: number; owner: { invalid: string | undefined } }[] = own.map((r) => ({
      base: r.base,
      size: r.size,
      owner: luoOwner,
    }));
    const parseFolios = (
      list: readonly { phys: bigint; order: number; flags: number }[],
      owner: { invalid: string | undefined },
      label: string,
    ): FolioRecord[] => {
      const out: FolioRecord[] = [];
      list.forEach((f, i) => {
        const phys = f.phys > MAX_SAFE ? -1 : Number(f.phys);
        if (phys < 0 || incoming.preservedOrderAt(phys) !== f.order) {
          owner.invalid ??= `${label}.folios[${i}] (0x${f.phys.toString(16)} order ${f.order}) was not preserved with that order`;
          return;
        }
        out.push({ phys, order: f.order, data: (f.flags & LUO_FOLIO_DATA) !== 0 });
        claims.push({ base: phys, size: folioBytes(f.order), owner });
      });
      return out;
    };
    const outOfRange = (label: string, data: bigint): string =>
      `${label}.data 0x${data.toString(16)} is out of range (beyond 2^53)`;
    const resolve = (compatible: string): { rt: UnitRuntime | undefined; version: number } => {
      const parsed = parseCompatibleString(compatible);
      if (parsed === undefined) return { rt: undefined, version: 0 };
      const unit = this.registry.handlerFor(parsed.driver, parsed.version);
      return { rt: unit === undefined ? undefined : this.runtimes.get(unit), version: parsed.version };
    };
    const seenFlbs = new Set<string>();
    for (const f of header.flbs) {
      const { rt, version } = resolve(f.compatible);
      const flb: InFlb = {
        compatible: f.compatible,
        resetAllowed: (f.flags & LUO_FILE_RESET_ALLOWED) !== 0,
        folios: [],
        dataPhys: f.data > MAX_SAFE ? 0 : Number(f.data),
        rt,
        version,
        status: "pending",
        users: 0,
        invalid: undefined,
        error: undefined,
        restored: new Set(),
      };
      flb.folios = parseFolios(f.folios, flb, `flb ${f.compatible}`);
      if (f.data > MAX_SAFE) flb.invalid ??= outOfRange(`flb ${f.compatible}`, f.data);
      if (f.data === 0n) flb.invalid ??= `flb ${f.compatible} has no data pointer`;
      if (seenFlbs.has(f.compatible))
        throw new LuoHandoverCorruptError(`luo handover: FLB ${f.compatible} listed twice`, {
          driver: "luo",
          compatible: f.compatible,
        });
      seenFlbs.add(f.compatible);
      if (rt === undefined || rt.unit.kind !== "flb") {
        flb.invalid ??= `no FLB handler for "${f.compatible}" in build ${this.build.version}`;
        this.unknownFlbs.push(flb);
        continue;
      }
      if (this.inFlbs.has(rt.unit))
        throw new LuoHandoverCorruptError(`luo handover: FLB ${f.compatible} listed twice`, {
          driver: "luo",
          compatible: f.compatible,
        });
      this.inFlbs.set(rt.unit, flb);
    }
    const records: InRecord[] = [];
    let index = 0;
    for (const s of header.sessions) {
      if (this.inSessions.has(s.name)) {
        throw new LuoHandoverCorruptError(`luo handover: session "${s.name}" listed twice`, {
          driver: "luo",
          session: s.name,
        });
      }
      const session: InSession = { name: s.name, records: new Map(), handle: undefined, finished: false };
      this.inSessions.set(s.name, session);
      for (const f of s.files) {
        if (session.records.has(f.token)) {
          throw new LuoHandoverCorruptError(
            `luo handover: session "${s.name}" lists token ${f.token} twice`,
            {
              driver: "luo",
              session: s.name,
              token: f.token,
            },
          );
        }
        const { rt, version } = resolve(f.compatible);
        const record: InRecord = {
          session,
          token: f.token,
          compatible: f.compatible,
          index: index++,
          resetAllowed: (f.flags & LUO_FILE_RESET_ALLOWED) !== 0,
          folios: [],
          dataPhys: f.data > MAX_SAFE ? 0 : Number(f.data),
          rt: rt !== undefined && rt.unit.kind === "driver" ? rt : undefined,
          version,
          status: "pending",
          object: undefined,
          invalid: undefined,
          reason: undefined,
          error: undefined,
          flbUser: false,
          restored: new Set(),
        };
        record.folios = parseFolios(f.folios, record, `session "${s.name}" token ${f.token}`);
        if (f.data > MAX_SAFE) record.invalid ??= outOfRange(`session "${s.name}" token ${f.token}`, f.data);
        if (f.data === 0n) record.invalid ??= `session "${s.name}" token ${f.token} has no data pointer`;
        session.records.set(f.token, record);
        records.push(record);
      }
    }
    // No folio may be claimed twice (by two objects, or twice by one).
    claims.sort((a, b) => a.base - b.base);
    for (let i = 1; i < claims.length; i++) {
      const prev = claims[i - 1]!;
      const cur = claims[i]!;
      if (cur.base < prev.base + prev.size) {
        const message =
          prev.owner === luoOwner || cur.owner === luoOwner
            ? `folio 0x${cur.base.toString(16)} overlaps the orchestrator's own handover memory (already restored and freed)`
            : `folio 0x${cur.base.toString(16)} is claimed by two objects`;
        prev.owner.invalid ??= message;
        cur.owner.invalid ??= message;
      }
    }
    return records;
  }

  private restoreRecord(r: InRecord): void {
    const who = { driver: r.rt?.unit.name ?? r.compatible, session: r.session.name, token: r.token };
    try {
      if (r.rt === undefined) {
        throw new LuoNoHandlerError(
          r.session.name,
          r.token,
          `no handler for "${r.compatible}" in kernel build ${this.build.version}`,
        );
      }
      const rt = r.rt;
      if (r.invalid !== undefined)
        throw new LuoHandoverCorruptError(`luo handover: ${r.invalid}`, { ...who });
      for (const flbUnit of rt.unit.flbs) this.acquireFlb(flbUnit);
      const state = this.decodeState(rt, r.version, r.compatible, r.dataPhys, r.folios, who);
      const hook = hookOf(rt.raw, "restore")!;
      const ctx = {
        ...this.inContext(r),
        phase: "UPDATED" as const,
        writtenVersion: r.version,
        compatible: r.compatible,
        ...this.restoreApi(
          `${rt.unit.name} (session "${r.session.name}" token ${r.token})`,
          r.folios,
          r.restored,
        ),
      };
      const object = this.runHook(rt, "restore", who, () => hook(state, ctx));
      r.object = object;
      r.status = "restored";
      if ((typeof object === "object" && object !== null) || typeof object === "function")
        this.inIndex.set(object, r);
      this.releaseData(r.folios, who);
      this.warnUnclaimed(r.folios, r.restored, who);
    } catch (error) {
      if (error instanceof LuoRestoreAbortedError) throw error;
      const policy = r.rt !== undefined ? r.rt.unit.meta.restorePolicy : r.resetAllowed ? "reset" : "abort";
      if (policy === "abort") {
        throw new LuoRestoreAbortedError(
          `cannot restore ${who.driver} (session "${r.session.name}" token ${r.token}, ${r.compatible}): ${errorMessage(error)}`,
          { ...who, compatible: r.compatible, reason: errorCode(error) },
          { cause: error },
        );
      }
      r.status = "reset";
      // The FLBs it needed lose a user.
      this.leaveFlbs(r);
      r.reason = errorMessage(error);
      const releasedBytes = this.releaseAll(r.folios, r.restored, who);
      this.reportReset({
        driver: who.driver,
        compatible: r.compatible,
        session: r.session.name,
        token: r.token,
        code: errorCode(error),
        reason: r.reason,
        releasedBytes,
      });
    }
  }

  /** Restores an FLB before its first user; later users only count. */
  private acquireFlb(unit: HandlerUnit): void {
    const flb = this.inFlbs.get(unit);
    if (flb === undefined) {
      throw new LuoHandoverCorruptError(`luo handover: FLB ${unit.name} needed but not in the handover`, {
        driver: unit.name,
      });
    }
    if (flb.status === "restored") return;
    if (flb.status !== "pending") throw new LuoFlbUnavailableError(unit.name, flb.compatible, flb.error);
    try {
      this.restoreFlb(unit, flb);
    } catch (error) {
      if (error instanceof LuoRestoreAbortedError) throw error;
      throw new LuoFlbUnavailableError(unit.name, flb.compatible, error);
    }
  }

  private restoreFlb(unit: HandlerUnit, flb: InFlb): void {
    const who = { driver: unit.name };
    try {
      if (flb.invalid !== undefined)
        throw new LuoHandoverCorruptError(`luo handover: ${flb.invalid}`, { ...who });
      const rt = flb.rt!;
      const state = this.decodeState(rt, flb.version, flb.compatible, flb.dataPhys, flb.folios, who);
      const hook = flbHookOf(rt.raw, "restore")!;
      const ctx = {
        flb: unit.name,
        users: 0,
        phase: "UPDATED" as const,
        writtenVersion: flb.version,
        compatible: flb.compatible,
        ...this.restoreApi(`FLB ${unit.name}`, flb.folios, flb.restored),
      };
      this.runHook(rt, "restore", who, () => hook(state, ctx));
      flb.status = "restored";
      this.releaseData(flb.folios, who);
      this.warnUnclaimed(flb.folios, flb.restored, who);
    } catch (error) {
      flb.error = error;
      if (unit.meta.restorePolicy === "abort") {
        flb.status = "reset";
        throw new LuoRestoreAbortedError(
          `cannot restore FLB ${unit.name} (${flb.compatible}): ${errorMessage(error)}`,
          { ...who, compatible: flb.compatible, reason: errorCode(error) },
          { cause: error },
        );
      }
      flb.status = "reset";
      const releasedBytes = this.releaseAll(flb.folios, flb.restored, who);
      this.reportReset({
        driver: unit.name,
        compatible: flb.compatible,
        code: errorCode(error),
        reason: errorMessage(error),
        releasedBytes,
      });
      throw error;
    }
  }

  /** An FLB of the handover that no restored object needed: release it (reset) and report. */
  private restoreFlbIfUnused(name: string, flb: InFlb): void {
    const who = { driver: flb.rt?.unit.name ?? flb.compatible };
    flb.status = "reset";
    const releasedBytes = this.releaseAll(flb.folios, flb.restored, who);
    this.reportReset({
      driver: who.driver,
      compatible: flb.compatible,
      code: "LUO_FLB_UNUSED",
      reason: flb.invalid ?? `no restored object needs FLB ${name}`,
      releasedBytes,
    });
  }

  private decodeState(
    rt: UnitRuntime,
    version: number,
    compatible: string,
    dataPhys: number,
    folios: readonly FolioRecord[],
    who: Where,
  ): unknown {
    const schema = rt.unit.meta.schema;
    return this.runHook(rt, "decode", who, () => {
      const reader = new HandoverReader(
        this.machine.memory,
        folios.filter((f) => f.data).map((f) => ({ base: f.phys, size: folioBytes(f.order) })),
      );
      if (dataPhys === 0)
        throw new LuoHandoverCorruptError(`luo handover: ${compatible} has no data pointer`, {
          ...who,
          field: "data",
        });
      const decoded = schema.version(version).codec.load(reader, dataPhys);
      // The same rule negotiation applied to the read path on the old kernel's side.
      const policy = this.lossyPolicy(this.registry);
      const allowLossy = policy === true || policy.includes(rt.unit.name);
      return schema.migrate(decoded as never, version, rt.unit.meta.native, {
        allowLossy,
        validate: version !== rt.unit.meta.native,
      }).value;
    });
  }

  private restoreApi(owner: string, folios: readonly FolioRecord[], restored: Set<number>): RestoreApi {
    const own = folios.filter((f) => !f.data);
    const kho = this.kho;
    const restoreFolio = (phys: PhysAddr, order: number): PhysAddr => {
      if (!own.some((f) => f.phys === phys && f.order === order) || restored.has(phys)) {
        throw new LuoFolioNotOwnedError(owner, phys, order);
      }
      const result = kho.restoreFolio(phys, order);
      restored.add(phys);
      return result;
    };
    return {
      folios: own.map((f) => ({ phys: f.phys, order: f.order })),
      restoreFolio,
      restorePages(phys: PhysAddr, nrPages: number): PhysAddr {
        for (const f of pagesToFolios(phys, nrPages)) restoreFolio(f.phys, f.order);
        return phys;
      },
    };
  }

  private releaseData(folios: readonly FolioRecord[], who: Where): void {
    for (const f of folios) {
      if (!f.data) continue;
      try {
        this.kho.restoreFolio(f.phys, f.order);
        this.kernel.freePages(f.phys, f.order);
      } catch (error) {
        this.recordError("release", error, who);
      }
    }
  }

  private warnUnclaimed(folios: readonly FolioRecord[], restored: Set<number>, who: Where): void {
    const left = folios.filter((f) => !f.data && !restored.has(f.phys));
    if (left.length === 0) return;
    this.timeline.record({
      kind: "warning",
      bootId: this.kernel.bootId,
      message: `${left.length} preserved folio(s) were not restored by the driver and stay reserved`,
      ...who,
    });
  }

  /** Releases every folio of a failed object: restored ones are freed, the others restored then freed. */
  private releaseAll(folios: readonly FolioRecord[], restored: Set<number>, who: Where): number {
    let bytes = 0;
    const incoming = this.kho.incoming!;
    for (const f of folios) {
      try {
        if (!restored.has(f.phys)) {
          if (incoming.preservedOrderAt(f.phys) !== f.order) continue;
          this.kho.restoreFolio(f.phys, f.order);
        }
        this.kernel.freePages(f.phys, f.order);
        bytes += folioBytes(f.order);
      } catch (error) {
        this.recordError("release", error, who);
      }
    }
    return bytes;
  }

  private reportReset(report: ResetReport): void {
    this.resetList.push(report);
    this.timeline.record({ kind: "reset", bootId: this.kernel.bootId, report });
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

  /** Runs `fn` as hook `hook` of `rt`, timed into the timeline. Rethrows what it throws. */
  private runHook<T>(rt: UnitRuntime, hook: string, where: Partial<Where>, fn: () => T): T {
    const clock = this.timeline.clock;
    const start = clock.now();
    const previous = this.activeHook;
    this.activeHook = rt;
    let ok = false;
    let failure: unknown;
    try {
      const result = fn();
      ok = true;
      return result;
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      this.activeHook = previous;
      const end = clock.now();
      this.timeline.record({
        kind: "hook",
        bootId: this.kernel.bootId,
        hook,
        owner: where.session === undefined ? "flb" : "object",
        driver: rt.unit.name,
        ...where,
        start,
        durationNs: end - start,
        ok,
        at: end,
        ...(ok ? {} : { error: toTimelineError(failure) }),
      });
    }
  }
}

function byRankThenSeq(a: OutParticipant, b: OutParticipant): number {
  return a.rt.unit.rank - b.rt.unit.rank || a.seq - b.seq;
}

function byRankThenIndex(a: InRecord, b: InRecord): number {
  const ra = a.rt === undefined ? -1 : a.rt.unit.rank;
  const rb = b.rt === undefined ? -1 : b.rt.unit.rank;
  return ra - rb || a.index - b.index;
}
