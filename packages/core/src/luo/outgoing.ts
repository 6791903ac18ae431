import type { PhysAddr } from "../hw/units.js";
import type { KernelBuild } from "../kernel/build.js";
import type { Kernel } from "../kernel/kernel.js";
import type { Kho } from "../kho/kho.js";
import type { DriverNegotiationOk } from "../schema/catalog/negotiate.js";
import {
  LuoError,
  LuoHookFailedError,
  LuoInvalidArgumentError,
  LuoNoHandlerError,
  LuoObjectBusyError,
  LuoPhaseError,
  LuoSessionClosedError,
  LuoTokenExistsError,
  LuoTokenNotFoundError,
} from "./errors.js";
import { checkFolioFields } from "./folio-fields.js";
import type { FlbHookContext, ObjectHookContext, PreserveApi, PreservedFolio } from "./handlers/contexts.js";
import { flbHookOf, hookOf } from "./handlers/hook-guards.js";
import type { SerializeAt } from "./handlers/types.js";
import { PreservedArena, pagesToFolios } from "./memory.js";
import type { LuoOptions } from "./orchestrator.js";
import {
  byRankThenSeq,
  type InRecord,
  type OutParticipant,
  type OutSession,
  type RunHook,
  sortByRankThenSeq,
  type UnitRuntime,
  type Where,
} from "./orchestrator-model.js";
import type { LuoPhase } from "./phase.js";
import type { DriverRegistry, HandlerUnit } from "./registry.js";
import { type LuoSession, normalizeToken, type OutgoingSessionOps, type PreserveOptions } from "./session.js";

/**
 * What the outgoing side needs from its orchestrator.
 *
 * @internal
 */
export interface OutgoingHost {
  readonly kernel: Kernel;
  readonly kho: Kho;
  readonly build: KernelBuild;
  readonly registry: DriverRegistry;
  readonly runtimes: ReadonlyMap<HandlerUnit, UnitRuntime>;
  readonly options: LuoOptions;
  /** The orchestrator's phase. */
  readonly phase: LuoPhase;
  /** Restored incoming objects (an object cannot be preserved while it is one). */
  readonly incomingIndex: ReadonlyMap<unknown, InRecord>;
  alive(what: string): void;
  negotiatedFor(unit: HandlerUnit): DriverNegotiationOk;
  ensureNegotiated(unit: HandlerUnit): void;
  discardDraft(): void;
  recordError(where: string, error: unknown, who: Where): void;
  /** Runs a hook, timed into the timeline. */
  readonly runHook: RunHook;
}

/**
 * The old kernel's side of an update: outgoing sessions and their objects, FLB participants, and
 * the participant hooks (prepare, serialize + encode, freeze, cancel) with their contexts, in the
 * order the orchestrator's phases drive them.
 *
 * @internal
 */
export class OutgoingUpdate {
  /** Open outgoing sessions by name, in creation order. */
  readonly outSessions = new Map<string, OutSession>();
  /** Preserved objects → their participants. */
  readonly outIndex = new Map<unknown, OutParticipant>();
  /** FLB participants of the update in progress. */
  readonly flbParticipants = new Map<HandlerUnit, OutParticipant>();
  /** What session handles call. */
  readonly outOps: OutgoingSessionOps;
  private seq = 0;

  /** @param host - the orchestrator's services. */
  constructor(private readonly host: OutgoingHost) {
    this.outOps = this.makeOutgoingOps();
  }

  makeOutgoingOps(): OutgoingSessionOps {
    const find = (handle: LuoSession): OutSession => {
      this.host.alive("session");
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
        this.host.alive("session");
        return this.outSessions.get(handle.name)?.handle === handle;
      },
    };
  }

  private preserve(session: OutSession, token: bigint, object: unknown, options: PreserveOptions): void {
    const name = session.handle.name;
    if (this.host.phase === "FROZEN")
      throw new LuoPhaseError("preserve", this.host.phase, { session: name, token });
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
    if (this.host.incomingIndex.has(object)) {
      const r = this.host.incomingIndex.get(object)!;
      throw new LuoObjectBusyError(r.session.name, r.token, r.rt?.unit.name ?? r.compatible);
    }
    const rt = this.handlerOf(name, token, object, options);
    const p = this.newParticipant({ kind: "object", rt, session, token, object }, false);
    session.records.set(token, p);
    this.outIndex.set(object, p);
    if (this.host.phase !== "PREPARED") return;
    // Brownout: join the update in progress (the handover drafted at prepare no longer lists every object).
    this.host.discardDraft();
    try {
      this.host.ensureNegotiated(rt.unit);
      this.prepareObject(p);
    } catch (error) {
      const failure = error instanceof LuoError ? error : this.wrapFailure("prepare", p, error);
      this.dropParticipant(p, `preserve failed: ${failure.message}`);
      throw failure;
    }
  }

  private unpreserve(session: OutSession, token: bigint): void {
    const name = session.handle.name;
    if (this.host.phase === "FROZEN")
      throw new LuoPhaseError("unpreserve", this.host.phase, { session: name, token });
    const p = session.records.get(token);
    if (p === undefined) throw new LuoTokenNotFoundError(name, token);
    this.dropParticipant(p, `session "${name}" token ${token} unpreserved`);
  }

  private closeSession(session: OutSession): void {
    const name = session.handle.name;
    if (this.host.phase === "FROZEN")
      throw new LuoPhaseError("closeSession", this.host.phase, { session: name });
    const records = [...session.records.values()].sort(byRankThenSeq).reverse();
    for (const p of records) this.dropParticipant(p, `session "${name}" closed`);
    this.outSessions.delete(name);
    this.host.discardDraft();
  }

  /** Removes an object from its session, cancelling it (and FLBs it was the last user of) if prepared. */
  private dropParticipant(p: OutParticipant, reason: string): void {
    this.host.discardDraft();
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
      const unit = this.host.registry.unitOf(options.driver);
      if (unit === undefined || unit.kind !== "driver") {
        throw new LuoNoHandlerError(
          session,
          token,
          `${options.driver.name ?? String(options.driver)} is not a driver of kernel build ${this.host.build.version}`,
        );
      }
      const rt = this.host.runtimes.get(unit)!;
      const check = hookOf(rt.raw, "canPreserve");
      if (
        check !== undefined &&
        !this.host.runHook(rt, "canPreserve", { session, token }, () => check(object))
      ) {
        throw new LuoNoHandlerError(
          session,
          token,
          `${unit.name} cannot preserve this object (canPreserve said no)`,
        );
      }
      return rt;
    }
    for (const unit of this.host.registry.drivers) {
      const rt = this.host.runtimes.get(unit)!;
      const check = hookOf(rt.raw, "canPreserve");
      if (
        check !== undefined &&
        this.host.runHook(rt, "canPreserve", { session, token }, () => check(object))
      )
        return rt;
    }
    throw new LuoNoHandlerError(session, token, "no driver of the build can preserve this object");
  }

  // forEach rather than iterators: these run once per phase (unoptimized) over every object.
  outgoingRecords(): OutParticipant[] {
    const out: OutParticipant[] = [];
    this.outSessions.forEach((s) => {
      s.records.forEach((p) => {
        out.push(p);
      });
    });
    return out;
  }

  activeParticipants(): OutParticipant[] {
    const list: OutParticipant[] = [];
    this.flbParticipants.forEach((p) => {
      list.push(p);
    });
    this.outSessions.forEach((s) => {
      s.records.forEach((p) => {
        if (p.active) list.push(p);
      });
    });
    return sortByRankThenSeq(list);
  }

  serializeAt(p: OutParticipant): SerializeAt {
    return p.rt.unit.meta.serializeAt ?? this.host.options.serializeAt ?? "prepare";
  }

  /**
   * A participant in its initial state: nothing prepared, serialized or preserved yet. Every field
   * is written here, in one order, so all participants share one hidden class: a spread of `who`
   * plus fields added later (api, hookWhere) made freeze 3-4x slower per object.
   */
  private newParticipant(
    who: Pick<OutParticipant, "kind" | "rt" | "session" | "token" | "object">,
    active: boolean,
  ): OutParticipant {
    return {
      kind: who.kind,
      rt: who.rt,
      seq: this.seq++,
      session: who.session,
      token: who.token,
      object: who.object,
      users: new Set(),
      active,
      prepared: false,
      frozen: false,
      dirty: false,
      data: undefined,
      folios: [],
      revision: 0,
      api: undefined,
      hookWhere: undefined,
    };
  }

  private flbParticipant(unit: HandlerUnit): OutParticipant {
    let flb = this.flbParticipants.get(unit);
    if (flb === undefined) {
      flb = this.newParticipant({ kind: "flb", rt: this.host.runtimes.get(unit)! }, true);
      this.flbParticipants.set(unit, flb);
    }
    return flb;
  }

  prepareObject(p: OutParticipant): void {
    p.active = true;
    for (const flbUnit of p.rt.unit.flbs) {
      const flb = this.flbParticipant(flbUnit);
      flb.users.add(p);
      if (!flb.prepared) this.prepareParticipant(flb);
    }
    this.prepareParticipant(p);
  }

  private prepareParticipant(p: OutParticipant): void {
    const negotiated = this.host.negotiatedFor(p.rt.unit);
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

  runFreeze(p: OutParticipant): void {
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
          // The live list (preservations push to it); a getter would make every context a slow object.
          preserved: p.folios,
        };
        this.guarded("freeze", p, hook, p.object, ctx);
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

  serialize(p: OutParticipant, reason: "prepare" | "freeze" | "dirty", phase: LuoPhase): void {
    const negotiated = this.host.negotiatedFor(p.rt.unit);
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
      const owner = () =>
        p.kind === "object"
          ? { driver: p.rt.unit.name, session: p.session!.handle.name, token: p.token! }
          : { driver: p.rt.unit.name };
      checkFolioFields(schema.version(negotiated.version).struct, migrated, p.folios, owner, "serialize");
      const arena = new PreservedArena(this.host.kernel, this.host.kho);
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
    if (p.api !== undefined) return p.api;
    const kho = this.host.kho;
    p.api = {
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
    return p.api;
  }

  private objectContext(p: OutParticipant, phase: LuoPhase): ObjectHookContext {
    return { driver: p.rt.unit.name, session: p.session!.handle.name, token: p.token!, phase };
  }

  private flbContext(p: OutParticipant, phase: LuoPhase): FlbHookContext {
    return { flb: p.rt.unit.name, users: p.users.size, phase };
  }

  where(p: OutParticipant): Where {
    return p.kind === "object"
      ? { driver: p.rt.unit.name, session: p.session!.handle.name, token: p.token! }
      : { driver: p.rt.unit.name };
  }

  /** Runs a hook (or encode) of an outgoing participant, timed; failures become {@link LuoHookFailedError}. */
  private guarded<T, A = undefined, B = undefined>(
    hook: string,
    p: OutParticipant,
    fn: (a: A, b: B) => T,
    a?: A,
    b?: B,
  ): T {
    try {
      // Built once per participant: hooks of every phase reuse it.
      p.hookWhere ??= p.kind === "object" ? { session: p.session!.handle.name, token: p.token! } : {};
      return this.host.runHook(p.rt, hook, p.hookWhere, fn, a, b);
    } catch (error) {
      throw this.wrapFailure(hook, p, error);
    }
  }

  wrapFailure(hook: string, p: OutParticipant | undefined, error: unknown): LuoHookFailedError {
    if (error instanceof LuoHookFailedError) return error;
    const where = p === undefined ? { driver: "luo" } : this.where(p);
    return new LuoHookFailedError(hook, { ...where, phase: this.host.phase }, error);
  }

  /** Runs the cancel hook of a prepared participant and releases its memory; never throws. */
  cancelParticipant(p: OutParticipant, reason: string): void {
    const who = this.where(p);
    if (p.prepared) {
      try {
        if (p.kind === "object") {
          const hook = hookOf(p.rt.raw, "cancel");
          if (hook !== undefined) {
            const ctx = { ...this.objectContext(p, this.host.phase), frozen: p.frozen, reason };
            this.host.runHook(p.rt, "cancel", who, () => hook(p.object, ctx));
          }
        } else {
          const hook = flbHookOf(p.rt.raw, "cancel");
          if (hook !== undefined) {
            const ctx = { ...this.flbContext(p, this.host.phase), frozen: p.frozen, reason };
            this.host.runHook(p.rt, "cancel", who, () => hook(ctx));
          }
        }
      } catch (error) {
        this.host.recordError("cancel", error, who);
      }
    }
    if (p.data !== undefined) {
      const arena = p.data.arena;
      try {
        arena.release();
      } catch (error) {
        this.host.recordError("release", error, who);
      }
    }
    for (const f of [...p.folios].reverse()) {
      try {
        this.host.kho.unpreserveFolio(f.phys, f.order);
      } catch (error) {
        this.host.recordError("unpreserve", error, who);
      }
    }
    p.folios = [];
    p.data = undefined;
    p.revision++;
    p.prepared = false;
    p.frozen = false;
    p.dirty = false;
  }
}
