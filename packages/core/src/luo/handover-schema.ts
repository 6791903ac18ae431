import { chars, reserved } from "../schema/declare/compound.js";
import { arrayPointer } from "../schema/declare/pointers.js";
import { u8, u32, u64 } from "../schema/declare/scalars.js";
import { struct } from "../schema/declare/struct.js";
import type { AnyStruct, Infer } from "../schema/declare/types.js";
import { type VersionedSchema, versionedSchema } from "../schema/versions/versioned.js";

/** Longest session name, including the terminating NUL (upstream `LIVEUPDATE_SESSION_NAME_LENGTH`). */
export const LUO_SESSION_NAME_LENGTH = 64;

/** Longest compatible string, including the terminating NUL. */
export const LUO_COMPATIBLE_LENGTH = 48;

/** `luo_folio.flags`: the folio holds the orchestrator's encoding of the object's state (released after restore). */
export const LUO_FOLIO_DATA = 1;

/** `luo_file.flags` / `luo_flb.flags`: the old kernel's restore policy for the object was `reset`. */
export const LUO_FILE_RESET_ALLOWED = 1;

/** Name of the KHO subtree holding the orchestrator's handover. */
export const LUO_SUBTREE = "luo";

const folioV1 = struct("luo_folio", {
  phys: u64(),
  order: u8({ max: 10 }),
  flags: u8({ mask: LUO_FOLIO_DATA }),
  _reserved: reserved(6),
});

const fileV1 = struct("luo_file", {
  token: u64(),
  compatible: chars(LUO_COMPATIBLE_LENGTH),
  data: u64(),
  nr_folios: u32({ max: 1 << 20 }),
  flags: u32({ mask: LUO_FILE_RESET_ALLOWED }),
  folios: arrayPointer(folioV1, { count: "nr_folios" }),
});

const sessionV1 = struct("luo_session", {
  name: chars(LUO_SESSION_NAME_LENGTH),
  nr_files: u32({ max: 1 << 20 }),
  _reserved: reserved(4),
  files: arrayPointer(fileV1, { count: "nr_files" }),
});

const flbV1 = struct("luo_flb", {
  compatible: chars(LUO_COMPATIBLE_LENGTH),
  data: u64(),
  nr_folios: u32({ max: 1 << 20 }),
  flags: u32({ mask: LUO_FILE_RESET_ALLOWED }),
  folios: arrayPointer(folioV1, { count: "nr_folios" }),
});

const handoverV1 = struct("luo_ser", {
  nr_sessions: u32({ max: 1 << 16 }),
  nr_flbs: u32({ max: 1 << 16 }),
  sessions: arrayPointer(sessionV1, { count: "nr_sessions" }),
  flbs: arrayPointer(flbV1, { count: "nr_flbs" }),
});

/** One preserved folio of an object (`struct luo_folio`). */
export interface LuoFolioRecord {
  /** Physical address. */
  phys: bigint;
  /** Folio order. */
  order: number;
  /** {@link LUO_FOLIO_DATA} when the folio holds the serialized state. */
  flags: number;
}

/** One preserved object (`struct luo_file`; upstream: a preserved file of a session). */
export interface LuoFileRecord {
  /** Token in its session. */
  token: bigint;
  /** Compatible string of the serialized state (`<driver>-v<N>`). */
  compatible: string;
  /** Physical address of the serialized state's root struct. */
  data: bigint;
  /** {@link LUO_FILE_RESET_ALLOWED} when the old kernel's restore policy was `reset`. */
  flags: number;
  /** Every folio of the object: its serialized state and the memory its driver preserved. */
  folios: LuoFolioRecord[];
}

/** One session (`struct luo_session`). */
export interface LuoSessionRecord {
  /** Session name. */
  name: string;
  /** Its objects. */
  files: LuoFileRecord[];
}

/** One FLB (`struct luo_flb`). */
export interface LuoFlbRecord {
  /** Compatible string of its serialized state. */
  compatible: string;
  /** Physical address of the serialized state's root struct. */
  data: bigint;
  /** {@link LUO_FILE_RESET_ALLOWED} when the old kernel's restore policy was `reset`. */
  flags: number;
  /** Its folios. */
  folios: LuoFolioRecord[];
}

/** The decoded orchestrator handover (`struct luo_ser`, version 1). */
export interface LuoHandoverValue {
  /** Every session. */
  sessions: LuoSessionRecord[];
  /** Every FLB. */
  flbs: LuoFlbRecord[];
}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Compile-time proof that the documented interfaces are exactly the declared layout's value type. */
const layoutMatches: Same<Infer<typeof handoverV1>, LuoHandoverValue> = true;
void layoutMatches;

/** `struct luo_folio` (v1). */
export const LuoFolioV1: AnyStruct = folioV1;
/** `struct luo_file` (v1). */
export const LuoFileV1: AnyStruct = fileV1;
/** `struct luo_session` (v1). */
export const LuoSessionV1: AnyStruct = sessionV1;
/** `struct luo_flb` (v1). */
export const LuoFlbV1: AnyStruct = flbV1;
/** `struct luo_ser`, the root of the orchestrator's handover (v1). */
export const LuoHandoverV1: AnyStruct = handoverV1;

/**
 * The orchestrator's own handover as a versioned schema (compatible `luo-v1`): sessions, tokens,
 * compatible strings, data pointers and preserved folios of every object, and every FLB. It is
 * negotiated like a driver's state and stored through KHO in the `luo` subtree, as upstream LUO
 * keeps its session structures in a subtree.
 */
export const LUO_SCHEMA: VersionedSchema = versionedSchema("luo", handoverV1);
