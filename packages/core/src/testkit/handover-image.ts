import type { Machine } from "../hw/machine.js";
import type { PhysAddr } from "../hw/units.js";
import type { BootData } from "../kernel/boot-data.js";
import { decodeFdt } from "../kho/fdt/parser.js";
import type { FdtNode } from "../kho/fdt/tree.js";
import {
  LUO_FILE_RESET_ALLOWED,
  LUO_FOLIO_DATA,
  LUO_SCHEMA,
  LUO_SUBTREE,
  LuoFileV1,
  LuoFlbV1,
  LuoFolioV1,
  LuoHandoverV1,
  type LuoHandoverValue,
  LuoSessionV1,
} from "../luo/handover-schema.js";
import { folioBytes, HandoverReader } from "../luo/memory.js";
import type { AnyStruct } from "../schema/declare/types.js";
import { layoutOf } from "../schema/layout/describe.js";
import { HandoverImageError } from "./errors.js";

/** One folio an object (or FLB) lists in the LUO handover, with where its entry lives. */
export interface HandoverFolioImage {
  /** Physical address of the folio. */
  readonly phys: PhysAddr;
  /** Folio order. */
  readonly order: number;
  /** `true` for a folio holding the serialized state (flag `LUO_FOLIO_DATA`), `false` for the driver's own memory. */
  readonly data: boolean;
  /** Physical address of the `struct luo_folio` entry describing it. */
  readonly entry: PhysAddr;
}

/** What an object and an FLB record have in common. */
export interface HandoverRecordImage {
  /** Compatible string written (`<driver>-v<N>`). */
  readonly compatible: string;
  /** Physical address of the record (`struct luo_file` or `struct luo_flb`). */
  readonly record: PhysAddr;
  /** Physical address of the serialized state (the record's `data`). */
  readonly data: PhysAddr;
  /** Physical address of the folio list (the record's `folios`). */
  readonly foliosPtr: PhysAddr;
  /** The listed folios. */
  readonly folios: readonly HandoverFolioImage[];
  /** Whether the old kernel's restore policy was `reset`. */
  readonly resetAllowed: boolean;
}

/** One preserved object (`struct luo_file`) as found in memory. */
export interface HandoverFileImage extends HandoverRecordImage {
  /** Session it belongs to. */
  readonly session: string;
  /** Its position in the session's file list. */
  readonly index: number;
  /** Its token. */
  readonly token: bigint;
}

/** One FLB (`struct luo_flb`) as found in memory. */
export interface HandoverFlbImage extends HandoverRecordImage {
  /** Its position in the FLB list. */
  readonly index: number;
}

/** One session (`struct luo_session`) as found in memory. */
export interface HandoverSessionImage {
  /** Session name. */
  readonly name: string;
  /** Physical address of the session record. */
  readonly record: PhysAddr;
  /** Physical address of its file array. */
  readonly filesPtr: PhysAddr;
  /** Its objects, in handover order. */
  readonly files: readonly HandoverFileImage[];
}

/** The orchestrator's `luo` KHO subtree (an FDT blob) as found in memory. */
export interface HandoverSubtreeImage {
  /** Physical address of the blob. */
  readonly phys: PhysAddr;
  /** Its `totalsize`. */
  readonly size: number;
  /** Its `compatible` property (`luo-v1`). */
  readonly compatible: string;
  /** Its `luo-data` property: physical address of the `struct luo_ser` header. */
  readonly data: PhysAddr;
  /** Its `luo-folios` property: the folios holding the orchestrator's own handover. */
  readonly folios: readonly HandoverArenaFolio[];
}

/** A folio of the orchestrator's own handover (an entry of the subtree's `luo-folios`). */
export interface HandoverArenaFolio {
  /** Physical address. */
  readonly phys: PhysAddr;
  /** Folio order. */
  readonly order: number;
}

/**
 * A read-only map of the LUO handover left in physical memory by a kernel that rebooted with a
 * live update: where every session, object record, folio entry and serialized state lives. Tests
 * use it to inspect the handover, to scan it (e.g. for virtual addresses) and to play a hostile
 * old kernel by corrupting precise bytes before the next kernel boots.
 */
export interface LuoHandoverImage {
  /** Boot data the next kernel receives. */
  readonly bootData: BootData;
  /** The `luo` subtree. */
  readonly subtree: HandoverSubtreeImage;
  /** Physical address of the `struct luo_ser` header. */
  readonly header: PhysAddr;
  /** The decoded handover. */
  readonly value: LuoHandoverValue;
  /** Sessions in handover order. */
  readonly sessions: readonly HandoverSessionImage[];
  /** FLBs in handover order. */
  readonly flbs: readonly HandoverFlbImage[];
  /** The record of `token` in session `session`, if present. */
  file(session: string, token: number | bigint): HandoverFileImage | undefined;
}

/** Byte offset of `field` in `struct` (from its canonical layout). */
export function fieldOffset(struct: AnyStruct, field: string): number {
  const found = layoutOf(struct).structs[0]!.fields.find((f) => f.name === field);
  if (found === undefined)
    throw new HandoverImageError(`struct ${struct.name} has no field ${field}`, { field });
  return found.offset;
}

/** Size (`size`) and field offsets (by field name) of one LUO handover record type. */
export type RecordLayout = Readonly<Record<string, number>>;

/** Sizes and field offsets of the LUO handover records, by record type. */
export interface LuoRecordLayout {
  /** `struct luo_ser`: `size`, `nr_sessions`, `nr_flbs`, `sessions`, `flbs`. */
  readonly header: RecordLayout;
  /** `struct luo_session`: `size`, `name`, `nr_files`, `files`. */
  readonly session: RecordLayout;
  /** `struct luo_file`: `size`, `token`, `compatible`, `data`, `nr_folios`, `flags`, `folios`. */
  readonly file: RecordLayout;
  /** `struct luo_flb`: `size`, `compatible`, `data`, `nr_folios`, `flags`, `folios`. */
  readonly flb: RecordLayout;
  /** `struct luo_folio`: `size`, `phys`, `order`, `flags`. */
  readonly folio: RecordLayout;
}

/** Sizes and field offsets of the LUO handover records (`luo-v1`), from the orchestrator's schema. */
export const LUO_RECORD_LAYOUT: LuoRecordLayout = Object.freeze({
  header: Object.freeze({
    size: layoutOf(LuoHandoverV1).size,
    nr_sessions: fieldOffset(LuoHandoverV1, "nr_sessions"),
    nr_flbs: fieldOffset(LuoHandoverV1, "nr_flbs"),
    sessions: fieldOffset(LuoHandoverV1, "sessions"),
    flbs: fieldOffset(LuoHandoverV1, "flbs"),
  }),
  session: Object.freeze({
    size: layoutOf(LuoSessionV1).size,
    name: fieldOffset(LuoSessionV1, "name"),
    nr_files: fieldOffset(LuoSessionV1, "nr_files"),
    files: fieldOffset(LuoSessionV1, "files"),
  }),
  file: Object.freeze({
    size: layoutOf(LuoFileV1).size,
    token: fieldOffset(LuoFileV1, "token"),
    compatible: fieldOffset(LuoFileV1, "compatible"),
    data: fieldOffset(LuoFileV1, "data"),
    nr_folios: fieldOffset(LuoFileV1, "nr_folios"),
    flags: fieldOffset(LuoFileV1, "flags"),
    folios: fieldOffset(LuoFileV1, "folios"),
  }),
  flb: Object.freeze({
    size: layoutOf(LuoFlbV1).size,
    compatible: fieldOffset(LuoFlbV1, "compatible"),
    data: fieldOffset(LuoFlbV1, "data"),
    nr_folios: fieldOffset(LuoFlbV1, "nr_folios"),
    flags: fieldOffset(LuoFlbV1, "flags"),
    folios: fieldOffset(LuoFlbV1, "folios"),
  }),
  folio: Object.freeze({
    size: layoutOf(LuoFolioV1).size,
    phys: fieldOffset(LuoFolioV1, "phys"),
    order: fieldOffset(LuoFolioV1, "order"),
    flags: fieldOffset(LuoFolioV1, "flags"),
  }),
});

/**
 * Reads the `luo` subtree of the KHO root FDT named by `bootData` (the FDT header's `totalsize`
 * bounds the blob).
 *
 * @throws {@link HandoverImageError} when there is no readable `luo` subtree.
 */
export function readLuoSubtree(machine: Pick<Machine, "memory">, bootData: BootData): HandoverSubtreeImage {
  const memory = machine.memory;
  const fail = (message: string, cause?: unknown): never => {
    throw new HandoverImageError(
      `LUO handover image: ${message}`,
      { fdtAddr: bootData.fdtAddr },
      cause === undefined ? undefined : { cause },
    );
  };
  let child: FdtNode | undefined;
  try {
    child = decodeFdt(memory.read(bootData.fdtAddr, bootData.fdtSize)).root.child(LUO_SUBTREE);
  } catch (error) {
    return fail("the KHO root FDT does not parse", error);
  }
  if (child === undefined) return fail(`the KHO root FDT has no "${LUO_SUBTREE}" subtree`);
  try {
    const phys = Number(child.getU64le("fdt"));
    const size = new DataView(memory.read(phys + 4, 4).buffer).getUint32(0, false);
    const root = decodeFdt(memory.read(phys, size)).root;
    const list = root.getBytes("luo-folios");
    const view = new DataView(list.buffer, list.byteOffset, list.byteLength);
    const folios: HandoverArenaFolio[] = [];
    for (let i = 0; i + 16 <= list.length; i += 16) {
      folios.push({ phys: Number(view.getBigUint64(i, true)), order: view.getUint32(i + 8, true) });
    }
    return {
      phys,
      size,
      compatible: root.getString("compatible"),
      data: Number(root.getU64le("luo-data")),
      folios,
    };
  } catch (error) {
    return fail(`the "${LUO_SUBTREE}" subtree does not parse`, error);
  }
}

/**
 * Maps the LUO handover in `machine`'s memory, as a kernel that rebooted with a live update left
 * it (call it between `luo.reboot()` and the next boot, or from the harness's `beforeBoot`).
 *
 * @param machine - the machine (or anything with its `memory`, such as an offline image from
 *   `openMemoryImage`: `{ memory }`).
 * @param bootData - the boot data of the handoff (`KexecHandoff.bootData`).
 * @throws {@link HandoverImageError} when the handover cannot be read (it is read with the same
 *   schema the orchestrator uses; a corrupt handover fails here too).
 * @example
 * ```ts
 * const handoff = lk.luo.reboot();
 * const image = readLuoHandover(machine, handoff.bootData!);
 * machine.memory.writeU64(image.file("vm", 1)!.data, 0x10_0000n); // point token 1's state elsewhere
 * ```
 */
export function readLuoHandover(machine: Pick<Machine, "memory">, bootData: BootData): LuoHandoverImage {
  const memory = machine.memory;
  const subtree = readLuoSubtree(machine, bootData);
  const L = LUO_RECORD_LAYOUT;
  let value: LuoHandoverValue;
  try {
    const version = LUO_SCHEMA.parseCompatible(subtree.compatible);
    const reader = new HandoverReader(
      memory,
      subtree.folios.map((f) => ({ base: f.phys, size: folioBytes(f.order) })),
    );
    const decoded = LUO_SCHEMA.version(version).codec.load(reader, subtree.data);
    value = LUO_SCHEMA.migrate(decoded as never, version, LUO_SCHEMA.latest).value as LuoHandoverValue;
  } catch (error) {
    throw new HandoverImageError(
      `LUO handover image: the handover does not decode: ${error instanceof Error ? error.message : String(error)}`,
      { phys: subtree.data },
      { cause: error },
    );
  }
  const u64 = (phys: number): number => Number(memory.readU64(phys));
  const folioImages = (
    ptr: number,
    list: readonly { phys: bigint; order: number; flags: number }[],
  ): HandoverFolioImage[] =>
    list.map((f, k) => ({
      phys: Number(f.phys),
      order: f.order,
      data: (f.flags & LUO_FOLIO_DATA) !== 0,
      entry: ptr + k * L.folio.size,
    }));
  const header = subtree.data;
  const sessionsPtr = u64(header + L.header.sessions);
  const sessions: HandoverSessionImage[] = value.sessions.map((s, i) => {
    const record = sessionsPtr + i * L.session.size;
    const filesPtr = u64(record + L.session.files);
    const files = s.files.map((f, j): HandoverFileImage => {
      const fileRecord = filesPtr + j * L.file.size;
      const foliosPtr = u64(fileRecord + L.file.folios);
      return {
        session: s.name,
        index: j,
        token: f.token,
        compatible: f.compatible,
        record: fileRecord,
        data: Number(f.data),
        foliosPtr,
        folios: folioImages(foliosPtr, f.folios),
        resetAllowed: (f.flags & LUO_FILE_RESET_ALLOWED) !== 0,
      };
    });
    return { name: s.name, record, filesPtr, files };
  });
  const flbsPtr = u64(header + L.header.flbs);
  const flbs: HandoverFlbImage[] = value.flbs.map((f, i) => {
    const record = flbsPtr + i * L.flb.size;
    const foliosPtr = u64(record + L.flb.folios);
    return {
      index: i,
      compatible: f.compatible,
      record,
      data: Number(f.data),
      foliosPtr,
      folios: folioImages(foliosPtr, f.folios),
      resetAllowed: (f.flags & LUO_FILE_RESET_ALLOWED) !== 0,
    };
  });
  return {
    bootData,
    subtree,
    header,
    value,
    sessions,
    flbs,
    file(session: string, token: number | bigint) {
      const t = BigInt(token);
      return sessions.find((s) => s.name === session)?.files.find((f) => f.token === t);
    },
  };
}
