import type { Machine } from "../hw/machine.js";
import type { Kernel } from "../kernel/kernel.js";
import { FdtBuilder } from "../kho/fdt/builder.js";
import type { Kho } from "../kho/kho.js";
import type { KhoFinalizeReport } from "../kho/outgoing.js";
import type { DriverNegotiationOk, NegotiationResult } from "../schema/catalog/negotiate.js";
import { codecFor } from "../schema/codec/codec.js";
import type { AnyStruct } from "../schema/declare/types.js";
import { layoutOf } from "../schema/layout/describe.js";
import {
  LUO_FILE_RESET_ALLOWED,
  LUO_FOLIO_DATA,
  LUO_SCHEMA,
  LUO_SUBTREE,
  type LuoFileRecord,
  LuoFileV1,
  type LuoFlbRecord,
  LuoFlbV1,
  LuoHandoverV1,
  type LuoHandoverValue,
  LuoSessionV1,
} from "./handover-schema.js";
import { folioBytes, PreservedArena } from "./memory.js";
import {
  byRankThenSeq,
  type HandoverDraft,
  type OutParticipant,
  type OutSession,
  type Where,
} from "./orchestrator-model.js";
import type { HandlerUnit } from "./registry.js";
import type { HandoverObjectBytes, Timeline } from "./timeline.js";

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

/**
 * What the handover writer needs from its orchestrator.
 *
 * @internal
 */
export interface HandoverWriterHost {
  readonly kernel: Kernel;
  readonly kho: Kho;
  readonly machine: Machine;
  readonly timeline: Timeline;
  readonly outSessions: ReadonlyMap<string, OutSession>;
  readonly flbParticipants: ReadonlyMap<HandlerUnit, OutParticipant>;
  readonly negotiation: NegotiationResult | undefined;
  negotiatedFor(unit: HandlerUnit): DriverNegotiationOk;
  where(p: OutParticipant): Where;
  recordError(where: string, error: unknown, who: Where): void;
}

/** Sizes the writer reports for a freeze. */
export interface HandoverWritten {
  /** Bytes of the orchestrator's own handover. */
  readonly luoBytes: number;
  /** Bytes of every object's serialized state. */
  readonly dataBytes: number;
  /** KHO's finalize report. */
  readonly kho: KhoFinalizeReport;
}

/**
 * Writes the orchestrator's own handover (`luo` subtree): drafted at the end of prepare, patched
 * at freeze for the participants that changed (O(dirty)), or written whole when the draft was
 * dropped; then published and KHO finalized.
 *
 * @internal
 */
export class HandoverWriter {
  /** The handover drafted at prepare, patched at freeze. */
  draft: HandoverDraft | undefined;
  /** The arena holding the current handover (draft or whole write), released on cancel. */
  arena: PreservedArena | undefined;

  /** @param host - the orchestrator's state the writer reads. */
  constructor(private readonly host: HandoverWriterHost) {}

  /** Releases whatever the writer holds (cancel); never throws. */
  release(): void {
    const arena = this.arena;
    this.arena = undefined;
    this.draft = undefined;
    if (arena === undefined) return;
    try {
      arena.release();
    } catch (error) {
      this.host.recordError("release", error, { driver: "luo" });
    }
  }

  /** Freeze: patches the draft, or writes the handover whole; then publishes it and finalizes KHO. */
  write(): HandoverWritten {
    return this.draft !== undefined ? this.patchHandover(this.draft) : this.writeHandover();
  }

  /** The `luo_file` record of an object (or `luo_flb` of an FLB, without token) as the handover lists it. */
  private recordOf(p: OutParticipant): LuoFileRecord | LuoFlbRecord {
    const compatible = this.host.negotiatedFor(p.rt.unit).compatible;
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
    const compatible = this.host.negotiatedFor(p.rt.unit).compatible;
    const dataBytes = p.data?.arena.bytes ?? 0;
    // One literal per kind (no spread): a thousand of these are summed inside the blackout.
    return p.kind === "object"
      ? {
          driver: p.rt.unit.name,
          session: p.session!.handle.name,
          token: p.token!,
          compatible,
          dataBytes,
          preservedBytes,
        }
      : { driver: p.rt.unit.name, compatible, dataBytes, preservedBytes };
  }

  /** The whole handover value, sessions in creation order, records in dependency order. */
  private handoverValue(): { value: LuoHandoverValue; order: OutParticipant[] } {
    const order: OutParticipant[] = [];
    const value: LuoHandoverValue = {
      sessions: [...this.host.outSessions.values()].map((s) => ({
        name: s.handle.name,
        files: [...s.records.values()].sort(byRankThenSeq).map((p) => {
          order.push(p);
          return this.recordOf(p) as LuoFileRecord;
        }),
      })),
      flbs: [...this.host.flbParticipants.values()].sort(byRankThenSeq).map((p) => {
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
  buildDraft(): void {
    this.discardDraft();
    const negotiatedLuo = this.host.negotiation!.drivers.find((d) => d.driver === LUO_SCHEMA.name)!;
    if (negotiatedLuo.version !== LUO_SCHEMA.latest) return;
    const { value, order } = this.handoverValue();
    const arena = new PreservedArena(this.host.kernel, this.host.kho);
    let phys: number;
    try {
      phys = LUO_SCHEMA.version(negotiatedLuo.version).codec.store(value as never, arena);
    } catch (error) {
      this.host.recordError("handover draft", error, { driver: "luo" });
      arena.release();
      return;
    }
    // Locate every record: root → sessions[] → files[], root → flbs[] (layout offsets of luo-v1).
    const memory = this.host.machine.memory;
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
    this.arena = arena;
  }

  /** Forgets the handover drafted at prepare (the participants changed); freeze writes it whole. */
  discardDraft(): void {
    const draft = this.draft;
    if (draft === undefined) return;
    this.draft = undefined;
    if (this.arena === draft.arena) this.arena = undefined;
    try {
      draft.arena.release();
    } catch (error) {
      this.host.recordError("release", error, { driver: "luo" });
    }
  }

  /** Freeze with a draft: re-encodes only the records whose participant changed since prepare. */
  patchHandover(draft: HandoverDraft): {
    luoBytes: number;
    dataBytes: number;
    kho: KhoFinalizeReport;
  } {
    const memory = this.host.machine.memory;
    // forEach: no iterator entry per record (this loop visits every record inside the blackout).
    draft.entries.forEach((entry, p) => {
      if (entry.revision === p.revision) return;
      const codec = p.kind === "object" ? LUO_FILE_CODEC : LUO_FLB_CODEC;
      // The record's folio list goes to fresh arena space; the old one stays unreferenced in it.
      memory.write(entry.addr, codec.encode(this.recordOf(p) as never, draft.arena));
      entry.revision = p.revision;
      draft.accounts.set(p, this.accountOf(p));
    });
    return this.publishHandover(draft.arena, draft.phys, [...draft.accounts.values()]);
  }

  /** Writes the `luo` subtree whole and finalizes KHO. */
  writeHandover(): HandoverWritten {
    const negotiatedLuo = this.host.negotiation!.drivers.find((d) => d.driver === LUO_SCHEMA.name)!;
    const { value, order } = this.handoverValue();
    const arena = new PreservedArena(this.host.kernel, this.host.kho);
    this.arena = arena;
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
  ): HandoverWritten {
    const negotiatedLuo = this.host.negotiation!.drivers.find((d) => d.driver === LUO_SCHEMA.name)!;
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
    this.host.kho.publishSubtree(LUO_SUBTREE, fdt);
    const kho = this.host.kho.finalize();
    let dataBytes = 0;
    let preservedBytes = 0;
    // Indexed: runs once per update, so unoptimized, where for-of allocates per element.
    for (let i = 0; i < objects.length; i++) {
      dataBytes += objects[i]!.dataBytes;
      preservedBytes += objects[i]!.preservedBytes;
    }
    this.host.timeline.record({
      kind: "handover",
      bootId: this.host.kernel.bootId,
      luoBytes: arena.bytes,
      dataBytes,
      preservedBytes,
      khoPreservedBytes: kho.preservedBytes,
      objects,
    });
    return { luoBytes: arena.bytes, dataBytes, kho };
  }
}
