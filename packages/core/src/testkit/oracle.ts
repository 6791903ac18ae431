import type { PhysicalMemory } from "../hw/physical-memory.js";
import { PAGE_SIZE } from "../hw/units.js";
import type { BootData } from "../kernel/boot-data.js";
import type { KernelBuild } from "../kernel/build.js";
import { decodeFdt } from "../kho/fdt/parser.js";
import {
  LUO_FILE_RESET_ALLOWED,
  LUO_FOLIO_DATA,
  LUO_SCHEMA,
  LUO_SUBTREE,
  type LuoHandoverValue,
} from "../luo/handover-schema.js";
import { folioBytes, HandoverReader } from "../luo/memory.js";
import { DriverRegistry, type HandlerUnit } from "../luo/registry.js";
import { valuesEqual } from "../schema/values/equal.js";
import { parseCompatibleString } from "../schema/versions/compatible.js";
import { HandoverImageError } from "./errors.js";

/**
 * What the testkit expects the new kernel to do with one preserved object after the handover was
 * corrupted, derived by reading the corrupted handover independently (see {@link HandoverOracle}):
 * - `reject`: the restore must fail with a typed error (boot error, reset, or ENOENT on retrieve);
 * - `intact`: nothing the object's restore reads changed: it must be restored equal to the original;
 * - `intact-or-reject`: the object's state is unchanged but something around it changed (another
 *   object's fate under the `abort` policy, its folio list, its FLB): restored equal, or rejected;
 * - `value`: the object's state still decodes, to a different well-formed value. No format without
 *   a checksum can tell it from a legitimate state; the restore may reject it (driver checks) or
 *   restore it. `sealed` says whether the changed bytes are the object's own serialized state
 *   (a driver that seals its state is expected to reject those).
 *
 * @internal
 */
export type Expectation =
  | { readonly kind: "reject"; readonly why: string }
  | { readonly kind: "intact"; readonly why: string }
  | { readonly kind: "intact-or-reject"; readonly why: string }
  | { readonly kind: "value"; readonly why: string; readonly sealed: boolean };

interface FolioView {
  readonly phys: number;
  readonly order: number;
  readonly data: boolean;
}

interface RecordView {
  readonly key: string;
  readonly index: number;
  readonly compatible: string;
  readonly unit: HandlerUnit | undefined;
  readonly version: number;
  readonly dataPhys: number;
  folios: readonly FolioView[];
  readonly resetAllowed: boolean;
  invalid: string | undefined;
}

interface FlbView extends RecordView {}

/** The handover as the new kernel would index it, or why it would refuse it as a whole. */
type HandoverView =
  | { readonly fatal: string }
  | {
      readonly fatal?: undefined;
      readonly records: readonly RecordView[];
      readonly flbs: ReadonlyMap<HandlerUnit, FlbView>;
      readonly released: ReadonlySet<number>;
    };

/** A decoded (and migrated to native) state, or why it does not decode. */
type Decoded = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly why: string };

/** The baseline: what the uncorrupted handover restores to. */
export interface OracleBaseline {
  /** Native state per object key (`session\0token`). */
  readonly states: ReadonlyMap<string, unknown>;
  /** Own folios per object key. */
  readonly own: ReadonlyMap<string, string>;
  /** Data folios per object key. */
  readonly dataFolios: ReadonlyMap<string, readonly FolioView[]>;
  /** Compatible per object key. */
  readonly compatibles: ReadonlyMap<string, string>;
  /** Native FLB state per FLB name. */
  readonly flbStates: ReadonlyMap<string, unknown>;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MAX_SUBTREE_FDT = 4 * 1024 * 1024;

/** Key of an object in the oracle's maps. */
export function objectKey(session: string, token: bigint): string {
  return `${session}\u0000${token}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * An independent reading of a LUO handover in memory that mirrors, rule by rule, what the new
 * kernel checks before it trusts the handover (`luo` subtree, compatible strings, folio lists
 * against the KHO memory map, double claims, data pointers, decoding and migration), and predicts
 * for every preserved object whether its restore must fail, must succeed unchanged, or may see a
 * different well-formed value.
 *
 * @internal
 */
export class HandoverOracle {
  private readonly registry: DriverRegistry;
  private readonly ranges: { base: number; size: number }[];

  /**
   * @param memory - physical memory holding the handover.
   * @param bootData - the handoff's boot data.
   * @param preserved - every folio KHO preserved at finalize (phys → order).
   * @param reader - the build that will restore.
   */
  constructor(
    private readonly memory: PhysicalMemory,
    private readonly bootData: BootData,
    private readonly preserved: ReadonlyMap<number, number>,
    reader: KernelBuild,
  ) {
    this.registry = DriverRegistry.of(reader);
    const sorted = [...preserved].map(([phys, order]) => ({ base: phys, size: folioBytes(order) }));
    sorted.sort((a, b) => a.base - b.base);
    this.ranges = [];
    for (const r of sorted) {
      const last = this.ranges[this.ranges.length - 1];
      if (last !== undefined && last.base + last.size === r.base) last.size += r.size;
      else this.ranges.push({ ...r });
    }
  }

  /** Reads the current (uncorrupted) handover as the baseline; throws if it does not read cleanly. */
  baseline(): OracleBaseline {
    const view = this.read();
    if (view.fatal !== undefined)
      throw new HandoverImageError(`the uncorrupted handover does not read: ${view.fatal}`, {
        reason: view.fatal,
      });
    const states = new Map<string, unknown>();
    const own = new Map<string, string>();
    const dataFolios = new Map<string, readonly FolioView[]>();
    const compatibles = new Map<string, string>();
    for (const r of view.records) {
      if (r.invalid !== undefined || r.unit === undefined)
        throw new HandoverImageError(`record ${r.compatible}: ${r.invalid ?? "no handler"}`, {
          compatible: r.compatible,
        });
      const decoded = this.decode(r);
      if (!decoded.ok)
        throw new HandoverImageError(`record ${r.compatible}: ${decoded.why}`, { compatible: r.compatible });
      states.set(r.key, decoded.value);
      own.set(r.key, ownKey(r));
      dataFolios.set(
        r.key,
        r.folios.filter((f) => f.data),
      );
      compatibles.set(r.key, r.compatible);
    }
    const flbStates = new Map<string, unknown>();
    for (const [unit, flb] of view.flbs) {
      const decoded = this.decode(flb);
      if (!decoded.ok)
        throw new HandoverImageError(`FLB ${flb.compatible}: ${decoded.why}`, { compatible: flb.compatible });
      flbStates.set(unit.name, decoded.value);
    }
    return { states, own, dataFolios, compatibles, flbStates };
  }

  /**
   * Predicts the fate of every object of `baseline` from the handover as it is in memory now.
   *
   * @param baseline - what the uncorrupted handover restores to.
   */
  predict(baseline: OracleBaseline): Map<string, Expectation> {
    const out = new Map<string, Expectation>();
    const view = this.read();
    if (view.fatal !== undefined) {
      for (const key of baseline.states.keys()) out.set(key, { kind: "reject", why: view.fatal });
      return out;
    }
    // FLB outcomes: ok (unchanged), maybe (changed state), fail.
    const flbFate = new Map<HandlerUnit, { fate: "ok" | "maybe" | "fail"; why: string }>();
    const flbOf = (unit: HandlerUnit): { fate: "ok" | "maybe" | "fail"; why: string } => {
      let fate = flbFate.get(unit);
      if (fate !== undefined) return fate;
      const flb = view.flbs.get(unit);
      if (flb === undefined) fate = { fate: "fail", why: `FLB ${unit.name} is missing from the handover` };
      else if (flb.invalid !== undefined) fate = { fate: "fail", why: flb.invalid };
      else {
        const decoded = this.decode(flb);
        if (!decoded.ok) fate = { fate: "fail", why: `FLB ${unit.name}: ${decoded.why}` };
        else if (!valuesEqual(decoded.value, baseline.flbStates.get(unit.name))) {
          fate = { fate: "maybe", why: `FLB ${unit.name} state changed` };
        } else fate = { fate: "ok", why: "" };
      }
      flbFate.set(unit, fate);
      return fate;
    };
    let bootFails: string | undefined;
    let bootMayFail: string | undefined;
    const fates = new Map<string, Expectation>();
    const ordered = [...view.records].sort(
      (a, b) => (a.unit?.rank ?? -1) - (b.unit?.rank ?? -1) || a.index - b.index,
    );
    for (const r of ordered) {
      const policy = r.unit !== undefined ? r.unit.meta.restorePolicy : r.resetAllowed ? "reset" : "abort";
      let fate: Expectation;
      let failed = false;
      let maybe = false;
      const fail = (why: string): void => {
        failed = true;
        fate = { kind: "reject", why };
      };
      fate = { kind: "intact", why: "" };
      if (r.unit === undefined) fail(`no handler for "${r.compatible}"`);
      else {
        for (const flbUnit of r.unit.flbs) {
          const f = flbOf(flbUnit);
          if (f.fate === "fail") {
            if (flbUnit.meta.restorePolicy === "abort") bootFails ??= f.why;
            fail(f.why);
            break;
          }
          if (f.fate === "maybe") {
            if (flbUnit.meta.restorePolicy === "abort") bootMayFail ??= f.why;
            maybe = true;
            fate = { kind: "intact-or-reject", why: f.why };
          }
        }
        if (!failed && r.invalid !== undefined) fail(r.invalid);
        if (!failed) {
          const decoded = this.decode(r);
          if (!decoded.ok) fail(decoded.why);
          else {
            const original = baseline.states.get(r.key);
            const known = baseline.states.has(r.key);
            const sameHandler =
              known && parseCompatibleString(baseline.compatibles.get(r.key) ?? "")?.driver === r.unit.name;
            const sameVersion = known && baseline.compatibles.get(r.key) === r.compatible;
            const dataSubset = r.folios
              .filter((f) => f.data)
              .every(
                (f) =>
                  baseline.dataFolios.get(r.key)?.some((o) => o.phys === f.phys && o.order === f.order) ===
                  true,
              );
            if (!known || !sameHandler || !valuesEqual(decoded.value, original)) {
              maybe = true;
              fate = {
                kind: "value",
                why: !known
                  ? "a record that was not in the original handover"
                  : !sameHandler
                    ? `compatible now names another driver ("${r.compatible}")`
                    : "its state decodes to a different well-formed value",
                sealed: sameVersion && dataSubset,
              };
            } else if (ownKey(r) !== baseline.own.get(r.key)) {
              maybe = true;
              if (fate.kind === "intact") fate = { kind: "intact-or-reject", why: "its folio list changed" };
            }
          }
        }
      }
      if (failed && policy === "abort") bootFails ??= fate.why;
      if (maybe && !failed && policy === "abort") bootMayFail ??= fate.why;
      fates.set(r.key, fate);
    }
    for (const key of baseline.states.keys()) {
      if (bootFails !== undefined) {
        out.set(key, { kind: "reject", why: `the new kernel's boot fails (abort policy): ${bootFails}` });
        continue;
      }
      const fate = fates.get(key) ?? { kind: "reject", why: "the object is no longer listed in its session" };
      if (fate.kind === "intact" && bootMayFail !== undefined) {
        out.set(key, { kind: "intact-or-reject", why: `the boot may fail (abort policy): ${bootMayFail}` });
      } else out.set(key, fate);
    }
    return out;
  }

  // ---- reading, mirroring the orchestrator -------------------------------------------------------

  private orderAt(phys: number): number | undefined {
    if (!Number.isSafeInteger(phys) || phys < 0 || phys % PAGE_SIZE !== 0) return undefined;
    return this.preserved.get(phys);
  }

  private isPreserved(phys: number, size: number): boolean {
    if (!Number.isSafeInteger(phys) || !Number.isSafeInteger(size) || size <= 0) return false;
    return this.ranges.some((r) => phys >= r.base && phys + size <= r.base + r.size);
  }

  private read(): HandoverView {
    let subtreePhys: number;
    let subtreeSize: number;
    let tree: ReturnType<typeof decodeFdt>;
    try {
      const root = decodeFdt(this.memory.read(this.bootData.fdtAddr, this.bootData.fdtSize));
      const node = root.root.child(LUO_SUBTREE);
      if (node === undefined) return { fatal: "no luo subtree" };
      const property = node.findProperty("fdt");
      if (property === undefined || property.length !== 8) return { fatal: "luo subtree pointer malformed" };
      const value = new DataView(property.buffer, property.byteOffset, 8).getBigUint64(0, true);
      if (value > MAX_SAFE || !this.isPreserved(Number(value), 40))
        return { fatal: "luo subtree not in preserved memory" };
      subtreePhys = Number(value);
      const header = new DataView(this.memory.read(subtreePhys, 8).buffer);
      if (header.getUint32(0, false) !== 0xd00dfeed) return { fatal: "luo subtree: bad FDT magic" };
      const size = header.getUint32(4, false);
      if (size > MAX_SUBTREE_FDT || !this.isPreserved(subtreePhys, size))
        return { fatal: "luo subtree: totalsize out of preserved memory" };
      subtreeSize = size;
      tree = decodeFdt(this.memory.read(subtreePhys, size));
    } catch (error) {
      return { fatal: `luo subtree does not parse: ${message(error)}` };
    }
    let compatible: string;
    let dataPhys: bigint;
    let list: Uint8Array;
    try {
      compatible = tree.root.getString("compatible");
      dataPhys = tree.root.getU64le("luo-data");
      list = tree.root.getBytes("luo-folios");
    } catch (error) {
      return { fatal: `luo subtree properties: ${message(error)}` };
    }
    const parsed = parseCompatibleString(compatible);
    if (parsed === undefined || parsed.driver !== LUO_SCHEMA.name || !LUO_SCHEMA.has(parsed.version)) {
      return { fatal: `luo subtree compatible "${compatible}"` };
    }
    if (list.length % 16 !== 0 || list.length === 0 || list.length > 16 * 65536)
      return { fatal: "luo-folios malformed" };
    const view = new DataView(list.buffer, list.byteOffset, list.byteLength);
    const arena: { phys: number; order: number }[] = [];
    for (let i = 0; i < list.length; i += 16) {
      const phys = view.getBigUint64(i, true);
      const order = view.getUint32(i + 8, true);
      if (phys > MAX_SAFE || view.getUint32(i + 12, true) !== 0 || this.orderAt(Number(phys)) !== order) {
        return { fatal: `luo-folios[${i / 16}] is not a preserved folio` };
      }
      arena.push({ phys: Number(phys), order });
    }
    if (dataPhys > MAX_SAFE) return { fatal: "luo-data beyond 2^53" };
    let value: LuoHandoverValue;
    try {
      const reader = new HandoverReader(
        this.memory,
        arena.map((f) => ({ base: f.phys, size: folioBytes(f.order) })),
      );
      const decoded = LUO_SCHEMA.version(parsed.version).codec.load(reader, Number(dataPhys));
      value = LUO_SCHEMA.migrate(decoded as never, parsed.version, LUO_SCHEMA.latest)
        .value as LuoHandoverValue;
    } catch (error) {
      return { fatal: `luo handover does not decode: ${message(error)}` };
    }
    const released = new Set<number>([...arena.map((f) => f.phys), subtreePhys]);
    // The orchestrator restores and frees its own folios and the subtree blob before indexing; an
    // object folio overlapping them makes that object invalid.
    const own = [
      ...arena.map((f) => ({ base: f.phys, size: folioBytes(f.order) })),
      { base: subtreePhys, size: Math.max(folioBytes(this.orderAt(subtreePhys) ?? 0), subtreeSize) },
    ];
    return this.index(value, released, own);
  }

  private index(
    header: LuoHandoverValue,
    released: ReadonlySet<number>,
    own: readonly { base: number; size: number }[],
  ): HandoverView {
    const luoOwner: { invalid: string | undefined } = { invalid: undefined };
    const claims: { base: number; size: number; owner: { invalid: string | undefined } }[] = own.map((r) => ({
      ...r,
      owner: luoOwner,
    }));
    const parseFolios = (
      list: readonly { phys: bigint; order: number; flags: number }[],
      owner: RecordView,
    ): FolioView[] => {
      const out: FolioView[] = [];
      list.forEach((f, i) => {
        const phys = f.phys > MAX_SAFE ? -1 : Number(f.phys);
        if (phys < 0 || this.orderAt(phys) !== f.order) {
          owner.invalid ??= `folios[${i}] was not preserved with that order`;
          return;
        }
        out.push({ phys, order: f.order, data: (f.flags & LUO_FOLIO_DATA) !== 0 });
        claims.push({ base: phys, size: folioBytes(f.order), owner });
      });
      return out;
    };
    const resolve = (compatible: string): { unit: HandlerUnit | undefined; version: number } => {
      const parsed = parseCompatibleString(compatible);
      if (parsed === undefined) return { unit: undefined, version: 0 };
      return { unit: this.registry.handlerFor(parsed.driver, parsed.version), version: parsed.version };
    };
    const flbs = new Map<HandlerUnit, FlbView>();
    const seenFlbs = new Set<string>();
    for (const [i, f] of header.flbs.entries()) {
      const { unit, version } = resolve(f.compatible);
      const flb: FlbView = {
        key: `flb:${i}`,
        index: i,
        compatible: f.compatible,
        unit,
        version,
        dataPhys: f.data > MAX_SAFE ? 0 : Number(f.data),
        folios: [],
        resetAllowed: (f.flags & LUO_FILE_RESET_ALLOWED) !== 0,
        invalid: undefined,
      };
      flb.folios = parseFolios(f.folios, flb);
      if (seenFlbs.has(f.compatible)) return { fatal: `FLB ${f.compatible} listed twice` };
      seenFlbs.add(f.compatible);
      if (unit === undefined || unit.kind !== "flb") continue;
      if (flbs.has(unit)) return { fatal: `FLB ${f.compatible} listed twice` };
      flbs.set(unit, flb);
    }
    const records: RecordView[] = [];
    const names = new Set<string>();
    let index = 0;
    for (const s of header.sessions) {
      if (names.has(s.name)) return { fatal: `session "${s.name}" listed twice` };
      names.add(s.name);
      const tokens = new Set<bigint>();
      for (const f of s.files) {
        if (tokens.has(f.token)) return { fatal: `session "${s.name}" lists token ${f.token} twice` };
        tokens.add(f.token);
        const { unit, version } = resolve(f.compatible);
        const record: RecordView = {
          key: objectKey(s.name, f.token),
          index: index++,
          compatible: f.compatible,
          unit: unit !== undefined && unit.kind === "driver" ? unit : undefined,
          version,
          dataPhys: f.data > MAX_SAFE ? 0 : Number(f.data),
          folios: [],
          resetAllowed: (f.flags & LUO_FILE_RESET_ALLOWED) !== 0,
          invalid: undefined,
        };
        record.folios = parseFolios(f.folios, record);
        records.push(record);
      }
    }
    claims.sort((a, b) => a.base - b.base);
    for (let i = 1; i < claims.length; i++) {
      const prev = claims[i - 1]!;
      const cur = claims[i]!;
      if (cur.base < prev.base + prev.size) {
        const why =
          prev.owner === luoOwner || cur.owner === luoOwner
            ? "a folio overlaps the orchestrator's own (freed) handover memory"
            : "a folio is claimed twice";
        prev.owner.invalid ??= why;
        cur.owner.invalid ??= why;
      }
    }
    return { records, flbs, released };
  }

  private decode(r: RecordView): Decoded {
    if (r.unit === undefined) return { ok: false, why: `no handler for "${r.compatible}"` };
    if (r.dataPhys === 0) return { ok: false, why: "no data pointer" };
    try {
      const schema = r.unit.meta.schema;
      const reader = new HandoverReader(
        this.memory,
        r.folios.filter((f) => f.data).map((f) => ({ base: f.phys, size: folioBytes(f.order) })),
      );
      const decoded = schema.version(r.version).codec.load(reader, r.dataPhys);
      return { ok: true, value: schema.migrate(decoded as never, r.version, r.unit.meta.native).value };
    } catch (error) {
      return { ok: false, why: message(error) };
    }
  }
}

function ownKey(r: RecordView): string {
  return r.folios
    .filter((f) => !f.data)
    .map((f) => `${f.phys}/${f.order}`)
    .sort()
    .join(",");
}
