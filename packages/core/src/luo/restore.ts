import type { PhysAddr } from "../hw/units.js";
import type { Kho } from "../kho/kho.js";
import {
  LuoFlbUnavailableError,
  LuoFolioNotOwnedError,
  LuoHandoverCorruptError,
  LuoInvalidArgumentError,
  LuoNoHandlerError,
  LuoObjectResetError,
  LuoRestoreAbortedError,
  LuoSessionBusyError,
  LuoSessionFinishedError,
  LuoSessionNotFoundError,
  LuoSessionRetrievedError,
  LuoTokenNotFoundError,
} from "./errors.js";
import { checkFolioFields } from "./folio-fields.js";
import type {
  FlbRestoreContext,
  ObjectHookContext,
  PreservedFolio,
  RestoreApi,
  RestoreContext,
} from "./handlers/contexts.js";
import { flbHookOf, hookOf } from "./handlers/hook-guards.js";
import type { ResetReport } from "./handlers/types.js";
import { type HandoverReaderHost, indexHandover, readHandover } from "./handover-reader.js";
import { LUO_SUBTREE } from "./handover-schema.js";
import { folioBytes, HandoverReader, pagesToFolios } from "./memory.js";
import type { FinishReport } from "./orchestrator.js";
import {
  byRankThenIndex,
  errorCode,
  errorMessage,
  type FolioRecord,
  type InFlb,
  type InRecord,
  type InSession,
  type LuoBootServices,
  type RunHook,
  type UnitRuntime,
  type Where,
} from "./orchestrator-model.js";
import type { LuoPhase, LuoTransition } from "./phase.js";
import type { DriverRegistry, HandlerUnit } from "./registry.js";
import {
  type IncomingSession,
  type IncomingSessionOps,
  newIncomingSession,
  normalizeToken,
} from "./session.js";
import type { Timeline, TimelineStep } from "./timeline.js";
import { virtualAddressHint } from "./virtual-hint.js";

/**
 * What the incoming side needs from its orchestrator.
 *
 * @internal
 */
export interface IncomingHost extends LuoBootServices {
  readonly timeline: Timeline;
  /** The orchestrator's phase. */
  readonly phase: LuoPhase;
  /** Sets the phase without a transition (the new kernel continues from the old one's FROZEN). */
  setPhase(phase: LuoPhase): void;
  alive(what: string): void;
  transition(to: LuoPhase, via: LuoTransition["via"]): void;
  step(step: TimelineStep, edge: "start" | "end", ok?: boolean): void;
  recordError(where: string, error: unknown, who: Where): void;
  /** Runs a hook, timed into the timeline. */
  readonly runHook: RunHook;
  lossyPolicy(registry: DriverRegistry): true | string[];
}

/**
 * The new kernel's side of an update (restore and finish): validates the handover at boot and
 * applies restore policies to what it is invalid for, restores objects lazily when retrieved
 * (FLBs with their first user, providers first), finishes sessions (restore-then-finish for
 * objects never retrieved), and records the VMs' resume.
 *
 * @internal
 */
export class IncomingUpdate {
  /** Incoming sessions not finished yet. */
  readonly inSessions = new Map<string, InSession>();
  /** Finished incoming sessions (their handles still answer). */
  readonly finishedSessions = new Map<string, InSession>();
  /** Names retrieved once. */
  readonly retrievedNames = new Set<string>();
  /** Restored objects → their records. */
  readonly inIndex = new Map<unknown, InRecord>();
  /** FLBs of the handover by handler. */
  readonly inFlbs = new Map<HandlerUnit, InFlb>();
  /** FLBs of the handover no handler of this build takes (reset at restore). */
  readonly unknownFlbs: InFlb[] = [];
  /** Objects and FLBs dropped by the `reset` policy. */
  readonly resetList: ResetReport[] = [];
  private resumed = false;
  private lossy: true | string[] | undefined;
  /** Data folios of objects restored before the resume, freed after it (see `releaseData`). */
  private readonly deferredData: (InRecord | InFlb)[] = [];
  /**
   * Folios restored by a driver, with the record or FLB that restored them. One map for the whole
   * handover: a folio belongs to one record (a folio claimed twice makes both records invalid).
   */
  private readonly restoredFolios = new Map<number, InRecord | InFlb>();
  private readonly inOps: IncomingSessionOps;

  /** @param host - the orchestrator's services. */
  constructor(private readonly host: IncomingHost) {
    this.inOps = this.makeIncomingOps();
  }

  /**
   * Takes an incoming session by name (upstream `LIVEUPDATE_IOCTL_RETRIEVE_SESSION`); once.
   *
   * @throws {@link LuoSessionNotFoundError} (ENOENT), {@link LuoSessionRetrievedError} (EINVAL, second
   *   retrieve).
   */
  retrieveSession(name: string): IncomingSession {
    if (this.retrievedNames.has(name)) throw new LuoSessionRetrievedError(name);
    const session = this.inSessions.get(name);
    if (session === undefined) throw new LuoSessionNotFoundError(name);
    this.retrievedNames.add(name);
    session.handle = newIncomingSession(name, this.inOps);
    return session.handle;
  }

  /** Names of the incoming sessions not finished yet (retrieved or not). */
  incomingSessions(): string[] {
    return [...this.inSessions.keys()];
  }

  /**
   * FINISH for the whole update: finishes every incoming session not finished yet (retrieved or
   * not). Never throws; sessions that cannot finish yet are reported as busy and stay open.
   */
  finish(): FinishReport {
    const finished: string[] = [];
    const busy: string[] = [];
    for (const session of [...this.inSessions.values()]) {
      try {
        this.finishSession(session);
        finished.push(session.name);
      } catch (error) {
        busy.push(session.name);
        this.host.recordError("finish", error, { driver: "luo", session: session.name });
      }
    }
    return { finished, busy };
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
    if (this.resumed || this.host.kho.incoming?.subtreeNames().includes(LUO_SUBTREE) !== true) return false;
    // The VMs resume at this call: the counts below are the report, not part of the blackout.
    const at = this.host.timeline.now();
    this.resumed = true;
    let restored = 0;
    let pending = 0;
    // forEach: once per boot (unoptimized) over every record, where iterators allocate per element.
    const count = (s: InSession): void => {
      s.records.forEach((r) => {
        if (r.status === "pending") pending++;
        else if (r.status === "restored" || r.status === "finished") restored++;
      });
    };
    this.inSessions.forEach(count);
    this.finishedSessions.forEach(count);
    this.host.timeline.record({ kind: "resumed", bootId: this.host.kernel.bootId, at, restored, pending });
    this.flushDeferredData();
    return true;
  }

  private makeIncomingOps(): IncomingSessionOps {
    const find = (handle: IncomingSession): InSession => {
      this.host.alive("session");
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
    this.host.step("finish", "start");
    // Restore-then-finish: objects never retrieved are restored now, so their drivers tear them down
    // through their usual hooks. A failure resets (or fails) the object; it is recorded, not thrown.
    for (const r of this.pendingInOrder(s)) {
      try {
        this.restoreOnRetrieve(r);
      } catch (error) {
        this.host.recordError("finish", error, {
          driver: r.rt?.unit.name ?? r.compatible,
          session: s.name,
          token: r.token,
        });
      }
    }
    // Never marked resumed: the data pages restore queued (including those of the objects just
    // restored) are freed now at the latest.
    this.flushDeferredData();
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
        ok = this.host.runHook(rt, "canFinish", { session: s.name, token: r.token }, () =>
          check(r.object, this.inContext(r)),
        );
      } catch (error) {
        ok = false;
        cause = error;
      }
      if (!ok) {
        this.host.step("finish", "end", false);
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
          this.host.runHook(rt, "finish", who, () => hook(r.object, this.inContext(r)));
        } catch (error) {
          this.host.recordError("finish", error, who);
        }
      }
      r.status = "finished";
      this.inIndex.delete(r.object);
      this.leaveFlbs(r);
    }
    for (const r of s.records.values()) {
      if (r.status !== "failed") continue;
      this.host.timeline.record({
        kind: "warning",
        bootId: this.host.kernel.bootId,
        message: `session "${s.name}" finished with a failed object: its preserved memory stays reserved`,
        driver: r.rt?.unit.name ?? r.compatible,
        session: s.name,
        token: r.token,
      });
    }
    s.finished = true;
    this.inSessions.delete(s.name);
    this.finishedSessions.set(s.name, s);
    this.host.step("finish", "end", true);
    if (this.inSessions.size === 0 && this.host.phase === "UPDATED") this.host.transition("NORMAL", "finish");
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
        this.host.runHook(rt, "finish", {}, () =>
          hook({ flb: rt.unit.name, users: 0, phase: this.host.phase }),
        );
      } catch (error) {
        this.host.recordError("finish", error, { driver: rt.unit.name });
      }
    }
    flb.status = "finished";
  }

  private inContext(r: InRecord): ObjectHookContext {
    return { driver: r.rt!.unit.name, session: r.session.name, token: r.token, phase: this.host.phase };
  }

  /**
   * Reads and validates the `luo` subtree (new kernel): records, compatible strings, folio lists,
   * double claims. Objects the handover is invalid for (no handler, corrupt record, an FLB missing
   * or invalid) meet their restore policy now — `abort` fails the boot, `reset` drops them; every
   * other object stays pending until retrieved (lazy restore, as upstream), FLBs until their first
   * user is restored.
   */
  restoreHandover(): void {
    // The old kernel left FROZEN; this boot continues its state machine from there.
    this.host.setPhase("FROZEN");
    this.host.transition("UPDATED", "reboot");
    this.host.step("kexec", "end", true);
    this.host.step("restore", "start");
    try {
      const host: HandoverReaderHost = {
        kernel: this.host.kernel,
        kho: this.host.kho,
        machine: this.host.machine,
        build: this.host.build,
        registry: this.host.registry,
        runtimes: this.host.runtimes,
        inSessions: this.inSessions,
        inFlbs: this.inFlbs,
        unknownFlbs: this.unknownFlbs,
        recordError: (where, error, who) => this.host.recordError(where, error, who),
      };
      const { value: header, own } = readHandover(host);
      const records = indexHandover(host, header, own);
      // Indexed loops: this runs once per boot (unoptimized) over every record, where iterators
      // would allocate per element. Records the handover is invalid for meet their policy now, in
      // restore order; the others stay pending.
      const bad: InRecord[] = [];
      for (let i = 0; i < records.length; i++) {
        if (this.invalidAtBoot(records[i]!)) bad.push(records[i]!);
      }
      bad.sort(byRankThenIndex);
      for (let i = 0; i < bad.length; i++) this.restoreRecord(bad[i]!);
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        if (r.status !== "pending") continue;
        r.flbUser = true;
        const flbs = r.rt!.unit.flbs;
        for (let k = 0; k < flbs.length; k++) this.inFlbs.get(flbs[k]!)!.users++;
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
      this.host.step("restore", "end", false);
      throw error;
    }
    this.host.step("restore", "end", true);
    if (this.inSessions.size === 0) this.host.transition("NORMAL", "finish");
  }

  /** Whether the handover alone makes a record unrestorable: no handler, invalid, or an FLB it needs is missing or invalid. */
  private invalidAtBoot(r: InRecord): boolean {
    if (r.rt === undefined || r.invalid !== undefined) return true;
    const flbs = r.rt.unit.flbs;
    for (let k = 0; k < flbs.length; k++) {
      const flb = this.inFlbs.get(flbs[k]!);
      if (flb === undefined || flb.invalid !== undefined) return true;
    }
    return false;
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
      // Only drivers have objects in sessions: a consumer of FLBs alone (the usual case) has no
      // pending provider to restore first, so the session is not scanned — scanning it on every
      // retrieve made restoring n objects cost O(n² log n).
      let driverProviders = false;
      for (const p of providers) if (p.kind === "driver") driverProviders = true;
      if (driverProviders)
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
      this.host.recordError("retrieve", aborted, {
        driver: unit?.name ?? r.compatible,
        session: r.session.name,
        token: r.token,
      });
      this.leaveFlbs(r);
      throw aborted;
    }
  }

  private restoreRecord(r: InRecord): void {
    try {
      if (r.rt === undefined) {
        throw new LuoNoHandlerError(
          r.session.name,
          r.token,
          `no handler for "${r.compatible}" in kernel build ${this.host.build.version}`,
        );
      }
      const rt = r.rt;
      if (r.invalid !== undefined) throw new LuoHandoverCorruptError(`luo handover: ${r.invalid}`, whoOf(r));
      const flbs = rt.unit.flbs;
      for (let i = 0; i < flbs.length; i++) this.acquireFlb(flbs[i]!);
      // The hook events name the driver through `rt`; `at` keeps only session and token.
      const at = { session: r.session.name, token: r.token };
      const state = this.decodeState(rt, r.version, r.compatible, r.dataPhys, r.folios, at);
      const hook = hookOf(rt.raw, "restore")!;
      const ctx = new ObjectRestoreContext(this.host.kho, r, this.restoredFolios, rt.unit.name, state);
      const object = this.host.runHook(rt, "restore", at, hook, state, ctx);
      r.object = object;
      r.status = "restored";
      if ((typeof object === "object" && object !== null) || typeof object === "function")
        this.inIndex.set(object, r);
      this.releaseData(r);
      this.warnUnclaimed(r);
    } catch (error) {
      if (error instanceof LuoRestoreAbortedError) throw error;
      const who = whoOf(r) as Required<Where>;
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
      const releasedBytes = this.releaseAll(r, who);
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

  /**
   * An FLB of the handover, on demand (upstream `liveupdate_flb_get_incoming()`): restores it now
   * if it is still pending (before any user object), and says whether the handover had it.
   *
   * @returns `false` when the handover has no such FLB (or this boot had no handover).
   * @throws {@link LuoFlbUnavailableError} when it was in the handover but is not usable: invalid,
   *   its restore failed, or it was released at boot because no object needed it;
   *   {@link LuoRestoreAbortedError} when its restore fails now under `abort`.
   */
  flbIncoming(unit: HandlerUnit): boolean {
    const flb = this.inFlbs.get(unit);
    if (flb === undefined) return false;
    if (flb.status === "restored" || flb.status === "finished") return true;
    if (flb.status === "reset") {
      throw new LuoFlbUnavailableError(
        unit.name,
        flb.compatible,
        flb.error ?? `it was released at boot: no restored object needs FLB ${unit.name}`,
      );
    }
    this.acquireFlb(unit);
    return true;
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
      const api = new FolioRestorer(this.host.kho, flb, this.restoredFolios, state);
      const ctx: FlbRestoreContext = {
        flb: unit.name,
        users: 0,
        phase: "UPDATED",
        writtenVersion: flb.version,
        compatible: flb.compatible,
        folios: api.folios,
        restoreFolio: api.restoreFolio,
        restorePages: api.restorePages,
      };
      this.host.runHook(rt, "restore", who, () => hook(state, ctx));
      flb.status = "restored";
      this.releaseData(flb);
      this.warnUnclaimed(flb);
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
      const releasedBytes = this.releaseAll(flb, who);
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
    const releasedBytes = this.releaseAll(flb, who);
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
    at: Partial<Where>,
  ): unknown {
    const meta = rt.unit.meta;
    return this.host.runHook(rt, "decode", at, () => {
      if (dataPhys === 0)
        throw new LuoHandoverCorruptError(`luo handover: ${compatible} has no data pointer`, {
          driver: rt.unit.name,
          ...at,
          field: "data",
        });
      const wire = meta.schema.version(version);
      const codec = wire.codec;
      const memory = this.host.machine.memory;
      // A state without pointers is one struct: when it lies aligned inside a data folio, it is
      // decoded in place. Anything else goes through the checked reader, which names the problem.
      const decoded =
        !codec.hasPointers && dataPhys % codec.align === 0 && inDataFolio(folios, dataPhys, codec.size)
          ? codec.decodeAt(memory.peek(dataPhys, codec.size), 0)
          : codec.load(HandoverReader.ofDataFolios(memory, folios), dataPhys);
      // Folio fields name memory preserved in place: it must be the object's own, before any hook.
      checkFolioFields(wire.struct, decoded, folios, () => ({ driver: rt.unit.name, ...at }), "restore");
      // Written at the native version: the codec checked every invariant, nothing to migrate.
      if (version === meta.native) return decoded;
      // The same rule negotiation applied to the read path on the old kernel's side.
      return meta.schema.migrate(decoded as never, version, meta.native, {
        allowLossy: this.allowsLossy(rt.unit.name),
        validate: true,
      }).value;
    });
  }

  /** Whether this build's lossy policy lets `driver` read through a lossy down-migrator (computed once). */
  private allowsLossy(driver: string): boolean {
    this.lossy ??= this.host.lossyPolicy(this.host.registry);
    return this.lossy === true || this.lossy.includes(driver);
  }

  /**
   * Frees the data folios of a restored object or FLB (the orchestrator's encoding of its state,
   * decoded now). Until the VMs resumed, they are only queued: freeing is not on the path to the
   * resume, so it runs after the resume mark (or at finish), outside the blackout.
   */
  private releaseData(owner: InRecord | InFlb): void {
    if (!this.resumed) {
      this.deferredData.push(owner);
      return;
    }
    this.freeData(owner);
  }

  /** Frees the data folios queued before the resume. */
  private flushDeferredData(): void {
    const queued = this.deferredData.splice(0);
    for (let i = 0; i < queued.length; i++) this.freeData(queued[i]!);
  }

  private freeData(owner: InRecord | InFlb): void {
    const folios = owner.folios;
    for (let i = 0; i < folios.length; i++) {
      const f = folios[i]!;
      if (!f.data) continue;
      try {
        this.host.kho.restoreFolio(f.phys, f.order);
        this.host.kernel.freePages(f.phys, f.order);
      } catch (error) {
        this.host.recordError("release", error, whoOf(owner));
      }
    }
  }

  private warnUnclaimed(owner: InRecord | InFlb): void {
    let left = 0;
    const folios = owner.folios;
    for (let i = 0; i < folios.length; i++) {
      if (!folios[i]!.data && this.restoredFolios.get(folios[i]!.phys) !== owner) left++;
    }
    if (left === 0) return;
    this.host.timeline.record({
      kind: "warning",
      bootId: this.host.kernel.bootId,
      message: `${left} preserved folio(s) were not restored by the driver and stay reserved`,
      ...whoOf(owner),
    });
  }

  /** Releases every folio of a failed object: restored ones are freed, the others restored then freed. */
  private releaseAll(owner: InRecord | InFlb, who: Where): number {
    let bytes = 0;
    const incoming = this.host.kho.incoming!;
    for (const f of owner.folios) {
      try {
        if (this.restoredFolios.get(f.phys) !== owner) {
          if (incoming.preservedOrderAt(f.phys) !== f.order) continue;
          this.host.kho.restoreFolio(f.phys, f.order);
        }
        this.host.kernel.freePages(f.phys, f.order);
        bytes += folioBytes(f.order);
      } catch (error) {
        this.host.recordError("release", error, who);
      }
    }
    return bytes;
  }

  private reportReset(report: ResetReport): void {
    this.resetList.push(report);
    this.host.timeline.record({ kind: "reset", bootId: this.host.kernel.bootId, report });
  }
}

/**
 * The restore API of one object or FLB: only the folios the old kernel listed for it (not the
 * orchestrator's data folios) may be restored, each once.
 */
class FolioRestorer implements RestoreApi {
  /** The listed folios a driver may restore (not the orchestrator's data folios). */
  readonly folios: readonly PreservedFolio[];
  // Private (`#`): a driver sees the restore API, not the orchestrator's bookkeeping.
  readonly #kho: Kho;
  readonly #holder: InRecord | InFlb;
  readonly #restored: Map<number, InRecord | InFlb>;
  /** phys → order of the listed folios, for objects with many folios (built on first use). */
  #byPhys: Map<number, number> | undefined;
  /** The decoded state being restored (names the field of a bad address in errors). */
  readonly #state: unknown;

  constructor(kho: Kho, holder: InRecord | InFlb, restored: Map<number, InRecord | InFlb>, state?: unknown) {
    this.#kho = kho;
    this.#state = state;
    this.#holder = holder;
    this.#restored = restored;
    const own: PreservedFolio[] = [];
    const listed = holder.folios;
    for (let i = 0; i < listed.length; i++) {
      if (!listed[i]!.data) own.push({ phys: listed[i]!.phys, order: listed[i]!.order });
    }
    this.folios = own;
  }

  readonly restoreFolio = (phys: PhysAddr, order: number): PhysAddr => {
    if (!this.#owns(phys, order) || this.#restored.get(phys) === this.#holder) {
      const who = whoOf(this.#holder);
      const owner =
        who.session === undefined
          ? `FLB ${who.driver}`
          : `${who.driver} (session "${who.session}" token ${who.token})`;
      throw new LuoFolioNotOwnedError(owner, phys, order, virtualAddressHint(phys, this.#state));
    }
    const result = this.#kho.restoreFolio(phys, order);
    this.#restored.set(phys, this.#holder);
    return result;
  };

  readonly restorePages = (phys: PhysAddr, nrPages: number): PhysAddr => {
    for (const f of pagesToFolios(phys, nrPages)) this.restoreFolio(f.phys, f.order);
    return phys;
  };

  #owns(phys: PhysAddr, order: number): boolean {
    const listed = this.folios;
    if (listed.length <= 16) {
      for (let i = 0; i < listed.length; i++) {
        if (listed[i]!.phys === phys && listed[i]!.order === order) return true;
      }
      return false;
    }
    if (this.#byPhys === undefined) {
      this.#byPhys = new Map();
      for (const f of listed) this.#byPhys.set(f.phys, f.order);
    }
    return this.#byPhys.get(phys) === order;
  }
}

/** Driver, session and token of a record (driver only for an FLB), as errors and warnings name them. */
function whoOf(owner: InRecord | InFlb): Where {
  if ("session" in owner) {
    return {
      driver: owner.rt?.unit.name ?? owner.compatible,
      session: owner.session.name,
      token: owner.token,
    };
  }
  return { driver: owner.rt?.unit.name ?? owner.compatible };
}

/**
 * The context of an object's `restore` hook, and its restore API in the same object (one
 * allocation per restored object). Its own enumerable properties are exactly the
 * {@link RestoreContext} members.
 */
class ObjectRestoreContext extends FolioRestorer implements RestoreContext {
  readonly phase = "UPDATED" as const;
  readonly session: string;
  readonly token: bigint;
  readonly writtenVersion: number;
  readonly compatible: string;

  constructor(
    kho: Kho,
    record: InRecord,
    restored: Map<number, InRecord | InFlb>,
    readonly driver: string,
    state: unknown,
  ) {
    super(kho, record, restored, state);
    this.session = record.session.name;
    this.token = record.token;
    this.writtenVersion = record.version;
    this.compatible = record.compatible;
  }
}

/** Whether `[phys, phys + size)` lies inside one data folio of the list. */
function inDataFolio(folios: readonly FolioRecord[], phys: number, size: number): boolean {
  for (let i = 0; i < folios.length; i++) {
    const f = folios[i]!;
    if (f.data && phys >= f.phys && phys + size <= f.phys + folioBytes(f.order)) return true;
  }
  return false;
}
