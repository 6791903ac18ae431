import type { Machine } from "../hw/machine.js";
import type { KernelBuild } from "../kernel/build.js";
import type { Kernel } from "../kernel/kernel.js";
import type { Kho } from "../kho/kho.js";
import type { PreserveApi, PreservedFolio } from "./handlers/contexts.js";
import type { PreservedArena } from "./memory.js";
import type { DriverRegistry, HandlerUnit } from "./registry.js";
import type { IncomingObjectStatus, IncomingSession, LuoSession } from "./session.js";
import type { HandoverObjectBytes } from "./timeline.js";
import { toTimelineError } from "./timeline.js";
import type { TokenMap } from "./token-map.js";

/**
 * The orchestrator's internal bookkeeping: outgoing participants, incoming records, and small
 * helpers shared by its modules (orchestrator, handover writer, handover reader).
 *
 * @internal
 * @module
 */

/**
 * The boot's services every part of the orchestrator reads (its host interfaces extend this).
 *
 * @internal
 */
export interface LuoBootServices {
  readonly kernel: Kernel;
  readonly kho: Kho;
  readonly machine: Machine;
  readonly build: KernelBuild;
  readonly registry: DriverRegistry;
  readonly runtimes: ReadonlyMap<HandlerUnit, UnitRuntime>;
}

/** A driver or FLB of this boot: its unit, raw instance and kernel-bound proxy. */
export interface UnitRuntime {
  readonly unit: HandlerUnit;
  readonly raw: object;
  readonly proxy: object;
}

/** An outgoing session and its participants by token. */
export interface OutSession {
  readonly handle: LuoSession;
  readonly records: TokenMap<OutParticipant>;
  open: boolean;
}

/**
 * Runs `fn(a, b)` as hook `hook` of `rt`, timed into the timeline; rethrows what it throws. The
 * hook's arguments are passed through rather than captured: no closure per object and hook.
 */
export type RunHook = <T, A = undefined, B = undefined>(
  rt: UnitRuntime,
  hook: string,
  where: Partial<Where>,
  fn: (a: A, b: B) => T,
  a?: A,
  b?: B,
) => T;

/** An object (or FLB) taking part in the outgoing update. */
export interface OutParticipant {
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
  /** Its preserve API for hook contexts, built once (at prepare) and reused at freeze. */
  api?: PreserveApi;
  /** Session and token as the timeline names them (built on first use). */
  hookWhere?: Partial<Where>;
}

/**
 * The orchestrator's handover as encoded at the end of prepare, so that freeze only re-encodes the
 * records of participants that changed since (O(dirty)). Dropped (full write at freeze) when the
 * set of sessions or participants changes during brownout.
 */
export interface HandoverDraft {
  readonly arena: PreservedArena;
  /** Physical address of the root `luo_ser`. */
  readonly phys: number;
  /** Per participant: its `luo_file` / `luo_flb` struct and the revision encoded there. */
  readonly entries: Map<OutParticipant, { readonly addr: number; revision: number }>;
  /** Per participant: its bytes for the `handover` timeline event (patched with the record). */
  readonly accounts: Map<OutParticipant, HandoverObjectBytes>;
}

/** A folio an incoming record lists (`data`: holds its serialized state). */
export interface FolioRecord {
  readonly phys: number;
  readonly order: number;
  readonly data: boolean;
}

/** An incoming object, as the handover lists it. */
export interface InRecord {
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
}

/** An incoming session. */
export interface InSession {
  readonly name: string;
  readonly records: TokenMap<InRecord>;
  handle: IncomingSession | undefined;
  finished: boolean;
}

/** An incoming FLB. */
export interface InFlb {
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
}

/** Who a hook, error or event is about. */
export type Where = { driver: string; session?: string; token?: bigint };

/** Largest physical address a JS number holds exactly (2^53 − 1). */
export const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The stable code of anything thrown. */
export function errorCode(error: unknown): string {
  return toTimelineError(error).code;
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Dependency order (providers first), then preservation order. */
export function byRankThenSeq(a: OutParticipant, b: OutParticipant): number {
  return a.rt.unit.rank - b.rt.unit.rank || a.seq - b.seq;
}

/**
 * Sorts `list` by {@link byRankThenSeq} in place, after a linear check: participants are mostly
 * listed in that order already (one driver, preservation order), and the check is cheaper than
 * a comparator sort inside the blackout.
 */
export function sortByRankThenSeq(list: OutParticipant[]): OutParticipant[] {
  for (let i = 1; i < list.length; i++) {
    if (byRankThenSeq(list[i - 1]!, list[i]!) > 0) return list.sort(byRankThenSeq);
  }
  return list;
}

/** Dependency order (providers first; unknown handlers first), then handover order. */
export function byRankThenIndex(a: InRecord, b: InRecord): number {
  const ra = a.rt === undefined ? -1 : a.rt.unit.rank;
  const rb = b.rt === undefined ? -1 : b.rt.unit.rank;
  return ra - rb || a.index - b.index;
}
