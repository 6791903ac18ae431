import { PAGE_SIZE, type PhysRange } from "../hw/units.js";
import type { KhoIncoming } from "../kho/incoming.js";
import type { Kho } from "../kho/kho.js";
import { parseCompatibleString } from "../schema/versions/compatible.js";
import { LuoHandoverCorruptError } from "./errors.js";
import {
  LUO_FILE_RESET_ALLOWED,
  LUO_FOLIO_DATA,
  LUO_SCHEMA,
  LUO_SUBTREE,
  type LuoHandoverValue,
} from "./handover-schema.js";
import { folioBytes, HandoverReader } from "./memory.js";
import {
  errorMessage,
  type FolioRecord,
  type InFlb,
  type InRecord,
  type InSession,
  type LuoBootServices,
  MAX_SAFE,
  type UnitRuntime,
  type Where,
} from "./orchestrator-model.js";
import type { HandlerUnit } from "./registry.js";
import { TokenMap } from "./token-map.js";

/**
 * The new kernel's reading of the orchestrator's handover (`luo` subtree): decode, then index and
 * validate every record (compatible strings, folio lists against the KHO memory map, double claims,
 * data pointers) into the orchestrator's incoming maps.
 *
 * @internal
 * @module
 */

/**
 * What the handover reader needs from (and fills in) its orchestrator.
 *
 * @internal
 */
export interface HandoverReaderHost extends LuoBootServices {
  readonly inSessions: Map<string, InSession>;
  readonly inFlbs: Map<HandlerUnit, InFlb>;
  readonly unknownFlbs: InFlb[];
  recordError(where: string, error: unknown, who: Where): void;
}

/**
 * Reads and decodes the `luo` subtree, then restores and frees the orchestrator's own folios and
 * the subtree blob; returns the decoded value and those (now freed) ranges, which no object may
 * claim.
 */
export function readHandover(host: HandoverReaderHost): { value: LuoHandoverValue; own: PhysRange[] } {
  const corrupt = (message: string, context: Record<string, unknown> = {}, cause?: unknown): never => {
    throw new LuoHandoverCorruptError(
      `luo handover: ${message}`,
      { driver: "luo", ...context },
      cause === undefined ? undefined : { cause },
    );
  };
  const incoming = host.kho.incoming!;
  let subtree: ReturnType<Kho["retrieveSubtree"]>;
  try {
    subtree = host.kho.retrieveSubtree(LUO_SUBTREE);
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
  if (folioBytesList.length % 16 !== 0 || folioBytesList.length === 0 || folioBytesList.length > 16 * 65536) {
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
    host.machine.memory,
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
    releaseIncoming(host, f.phys, f.order);
    own.push({ base: f.phys, size: folioBytes(f.order) });
  }
  const subtreeOrder = incoming.preservedOrderAt(subtree.phys) ?? 0;
  releaseIncoming(host, subtree.phys, subtreeOrder);
  own.push({ base: subtree.phys, size: Math.max(folioBytes(subtreeOrder), subtree.bytes.length) });
  return { value, own };
}

function releaseIncoming(host: HandoverReaderHost, phys: number, order: number): number {
  try {
    host.kho.restoreFolio(phys, order);
    host.kernel.freePages(phys, order);
    return folioBytes(order);
  } catch (error) {
    host.recordError("release", error, { driver: "luo" });
    return 0;
  }
}

/**
 * Builds the incoming sessions and FLB records; validates folio ownership. `own` are the
 * orchestrator's own handover ranges (already restored and freed): any object folio overlapping
 * them makes that object invalid, as does a folio claimed twice.
 */
export function indexHandover(
  host: HandoverReaderHost,
  header: LuoHandoverValue,
  own: readonly PhysRange[],
): InRecord[] {
  const incoming = host.kho.incoming!;
  const luoOwner: { invalid: string | undefined } = { invalid: undefined };
  // Every folio claimed, column-wise (no object per folio): checked for overlaps at the end.
  const claimBase: number[] = [];
  const claimSize: number[] = [];
  const claimOwner: { invalid: string | undefined }[] = [];
  for (let i = 0; i < own.length; i++) {
    claimBase.push(own[i]!.base);
    claimSize.push(own[i]!.size);
    claimOwner.push(luoOwner);
  }
  // The record's label is only built for a message.
  const parseFolios = (
    list: readonly { phys: bigint; order: number; flags: number }[],
    owner: { invalid: string | undefined },
    session: string | undefined,
    what: string | bigint,
  ): FolioRecord[] => {
    const out: FolioRecord[] = new Array(list.length);
    let n = 0;
    for (let i = 0; i < list.length; i++) {
      const f = list[i]!;
      // One conversion, no bigint comparison: beyond 2^53 - 1 the number is not a safe integer.
      const phys = Number(f.phys);
      if (!Number.isSafeInteger(phys) || !incoming.isPreservedFolio(phys, f.order)) {
        const label = session === undefined ? `flb ${String(what)}` : `session "${session}" token ${what}`;
        owner.invalid ??= `${label}.folios[${i}] (0x${f.phys.toString(16)} order ${f.order}) was not preserved with that order`;
        continue;
      }
      out[n++] = { phys, order: f.order, data: (f.flags & LUO_FOLIO_DATA) !== 0 };
      claimBase.push(phys);
      claimSize.push(folioBytes(f.order));
      claimOwner.push(owner);
    }
    if (n < out.length) out.length = n;
    return out;
  };
  const outOfRange = (label: string, data: bigint): string =>
    `${label}.data 0x${data.toString(16)} is out of range (beyond 2^53)`;
  // Most records share a few compatible strings: each is parsed and looked up once.
  const resolved = new Map<string, { rt: UnitRuntime | undefined; version: number }>();
  const resolve = (compatible: string): { rt: UnitRuntime | undefined; version: number } => {
    let hit = resolved.get(compatible);
    if (hit === undefined) {
      const parsed = parseCompatibleString(compatible);
      if (parsed === undefined) hit = { rt: undefined, version: 0 };
      else {
        const unit = host.registry.handlerFor(parsed.driver, parsed.version);
        hit = { rt: unit === undefined ? undefined : host.runtimes.get(unit), version: parsed.version };
      }
      resolved.set(compatible, hit);
    }
    return hit;
  };
  const seenFlbs = new Set<string>();
  for (let k = 0; k < header.flbs.length; k++) {
    const f = header.flbs[k]!;
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
    };
    flb.folios = parseFolios(f.folios, flb, undefined, f.compatible);
    if (f.data > MAX_SAFE) flb.invalid ??= outOfRange(`flb ${f.compatible}`, f.data);
    if (f.data === 0n) flb.invalid ??= `flb ${f.compatible} has no data pointer`;
    if (seenFlbs.has(f.compatible))
      throw new LuoHandoverCorruptError(`luo handover: FLB ${f.compatible} listed twice`, {
        driver: "luo",
        compatible: f.compatible,
      });
    seenFlbs.add(f.compatible);
    if (rt === undefined || rt.unit.kind !== "flb") {
      flb.invalid ??= `no FLB handler for "${f.compatible}" in build ${host.build.version}`;
      host.unknownFlbs.push(flb);
      continue;
    }
    if (host.inFlbs.has(rt.unit))
      throw new LuoHandoverCorruptError(`luo handover: FLB ${f.compatible} listed twice`, {
        driver: "luo",
        compatible: f.compatible,
      });
    host.inFlbs.set(rt.unit, flb);
  }
  const records: InRecord[] = [];
  let index = 0;
  for (let k = 0; k < header.sessions.length; k++) {
    const s = header.sessions[k]!;
    if (host.inSessions.has(s.name)) {
      throw new LuoHandoverCorruptError(`luo handover: session "${s.name}" listed twice`, {
        driver: "luo",
        session: s.name,
      });
    }
    const session: InSession = { name: s.name, records: new TokenMap(), handle: undefined, finished: false };
    host.inSessions.set(s.name, session);
    for (let j = 0; j < s.files.length; j++) {
      const f = s.files[j]!;
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
      };
      record.folios = parseFolios(f.folios, record, s.name, f.token);
      if (f.data > MAX_SAFE) record.invalid ??= outOfRange(`session "${s.name}" token ${f.token}`, f.data);
      if (f.data === 0n) record.invalid ??= `session "${s.name}" token ${f.token} has no data pointer`;
      // One hash operation per record: a set that did not grow the map was a duplicate token.
      const before = session.records.size;
      session.records.set(f.token, record);
      if (session.records.size === before) {
        throw new LuoHandoverCorruptError(`luo handover: session "${s.name}" lists token ${f.token} twice`, {
          driver: "luo",
          session: s.name,
          token: f.token,
        });
      }
      records.push(record);
    }
  }
  // No folio may be claimed twice (by two objects, or twice by one).
  if (claimsDisjoint(incoming, claimBase, claimSize, own.length)) return records;
  const claims = claimBase.map((base, i) => ({ base, size: claimSize[i]!, owner: claimOwner[i]! }));
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

/**
 * Whether no object claim `[base, base + size)` overlaps another or the orchestrator's own memory.
 * The first `ownCount` ranges are the orchestrator's own handover memory (not compared with each
 * other); the rest are object claims, folios KHO listed (each checked to be a preserved folio of
 * exactly that order). KHO refused at boot a handover whose preserved folios overlap, so two such
 * folios overlap only when they are the same folio: a set of page frame numbers (small integers,
 * cheap to hash, unlike addresses beyond 2^30) finds that in linear time. Own ranges that are
 * preserved folios join that set; any other own range is compared with every object claim.
 */
function claimsDisjoint(
  incoming: KhoIncoming,
  base: readonly number[],
  size: readonly number[],
  ownCount: number,
): boolean {
  const frames = new Set<number>();
  for (let i = 0; i < ownCount; i++) {
    const start = base[i]!;
    const order = Math.log2(size[i]! / PAGE_SIZE);
    if (Number.isInteger(order) && incoming.isPreservedFolio(start, order)) {
      frames.add(start / PAGE_SIZE);
      continue;
    }
    const end = start + size[i]!;
    for (let j = ownCount; j < base.length; j++)
      if (base[j]! < end && start < base[j]! + size[j]!) return false;
  }
  for (let i = ownCount; i < base.length; i++) {
    const frame = base[i]! / PAGE_SIZE;
    if (frames.has(frame)) return false;
    frames.add(frame);
  }
  return true;
}
