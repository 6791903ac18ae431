import type { PhysAddr } from "../../hw/units.js";
import type { LuoPhase } from "../phase.js";

/** A folio (2^order pages) of preserved memory, as listed in the handover. */
export interface PreservedFolio {
  /** Physical address of the folio. */
  readonly phys: PhysAddr;
  /** Folio order (0 = one 4 KiB page). */
  readonly order: number;
}

/** What every object hook is told about the object it runs for. */
export interface ObjectHookContext {
  /** Driver name. */
  readonly driver: string;
  /** Session the object is preserved in. */
  readonly session: string;
  /** The object's token in its session. */
  readonly token: bigint;
  /** The update phase the hook runs in. */
  readonly phase: LuoPhase;
}

/** What every FLB hook is told. */
export interface FlbHookContext {
  /** FLB name. */
  readonly flb: string;
  /** Number of preserved objects that currently need this FLB. */
  readonly users: number;
  /** The update phase the hook runs in. */
  readonly phase: LuoPhase;
}

/**
 * Preservation through the orchestrator: memory preserved this way is listed with the object in
 * the LUO handover (so the new kernel can release it under the `reset` policy), accounted in the
 * timeline, and unpreserved automatically when the update is cancelled.
 */
export interface PreserveApi {
  /** Preserves one folio (mirrors `kho_preserve_folio`). */
  preserveFolio(phys: PhysAddr, order: number): void;
  /** Preserves `nrPages` pages from `phys`, split into natural folios (mirrors `kho_preserve_pages`). */
  preservePages(phys: PhysAddr, nrPages: number): void;
  /** Folios preserved through this API so far, for this object. */
  readonly preserved: readonly PreservedFolio[];
}

/**
 * Restoration through the orchestrator: only folios the old kernel listed for this object may be
 * restored, so a driver can never take memory that belongs to another object.
 */
export interface RestoreApi {
  /** Folios the old kernel preserved for this object (the driver's own, not the LUO's data pages). */
  readonly folios: readonly PreservedFolio[];
  /**
   * Restores one listed folio (mirrors `kho_restore_folio`) and returns its address.
   *
   * @throws `LuoFolioNotOwnedError` (EINVAL) when the folio is not listed for this object.
   */
  restoreFolio(phys: PhysAddr, order: number): PhysAddr;
  /** Restores `nrPages` pages preserved with `preservePages(phys, nrPages)`. */
  restorePages(phys: PhysAddr, nrPages: number): PhysAddr;
}

/** Context of the `prepare` hook (upstream: first half of `preserve`). */
export interface PrepareContext extends ObjectHookContext, PreserveApi {
  /** The negotiated version the state will be written at. */
  readonly version: number;
  /** Its compatible string. */
  readonly compatible: string;
}

/** Context of the `serialize` hook (upstream: second half of `preserve`, or re-done at `freeze`). */
export interface SerializeContext extends ObjectHookContext {
  /** The negotiated version the returned native state is migrated to before encoding. */
  readonly version: number;
  /** Its compatible string. */
  readonly compatible: string;
  /** Why serializing now: first time at prepare, strict mode at freeze, or re-serialization of a dirty object. */
  readonly reason: "prepare" | "freeze" | "dirty";
}

/** Context of the `freeze` hook (upstream: `freeze`). Late preservations are still possible. */
export interface FreezeContext extends ObjectHookContext, PreserveApi {}

/** Context of the `cancel` hook (upstream: `unfreeze` when frozen, then `unpreserve`). */
export interface CancelContext extends ObjectHookContext {
  /** Whether the object's freeze hook had run (undo it too). */
  readonly frozen: boolean;
  /** Why the update is cancelled (a caller's cancel, a failing hook, a closed session…). */
  readonly reason: string;
}

/** Context of the `restore` hook (upstream: `retrieve`), in the new kernel. */
export interface RestoreContext extends ObjectHookContext, RestoreApi {
  /** The version the old kernel wrote (the state was migrated to the native version since). */
  readonly writtenVersion: number;
  /** The compatible string found in the handover. */
  readonly compatible: string;
}

/** Context of the `canFinish` and `finish` hooks (upstream: `can_finish`, `finish`). */
export interface FinishContext extends ObjectHookContext {}

/** Context of an FLB's `prepare` hook (upstream: `liveupdate_flb_ops.preserve`). */
export interface FlbPrepareContext extends FlbHookContext, PreserveApi {
  /** Negotiated version. */
  readonly version: number;
  /** Its compatible string. */
  readonly compatible: string;
}

/** Context of an FLB's `serialize` hook. */
export interface FlbSerializeContext extends FlbHookContext {
  /** Negotiated version. */
  readonly version: number;
  /** Its compatible string. */
  readonly compatible: string;
  /** Why serializing now. */
  readonly reason: "prepare" | "freeze" | "dirty";
}

/** Context of an FLB's `freeze` hook (runs after every user froze). */
export interface FlbFreezeContext extends FlbHookContext, PreserveApi {}

/** Context of an FLB's `cancel` hook (upstream: `unpreserve`; runs after the last user cancelled). */
export interface FlbCancelContext extends FlbHookContext {
  /** Whether the FLB's freeze hook had run. */
  readonly frozen: boolean;
  /** Why. */
  readonly reason: string;
}

/** Context of an FLB's `restore` hook (upstream: `retrieve`; runs before the first user restores). */
export interface FlbRestoreContext extends FlbHookContext, RestoreApi {
  /** The version the old kernel wrote. */
  readonly writtenVersion: number;
  /** The compatible string found in the handover. */
  readonly compatible: string;
}

/** Context of an FLB's `finish` hook (runs after the last user finished). */
export interface FlbFinishContext extends FlbHookContext {}
