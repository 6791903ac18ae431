import type { FlbPrepareContext, PrepareContext } from "../../luo/handlers/contexts.js";

/**
 * `prepare` — first half of upstream `preserve`: runs at the start of brownout (NORMAL → PREPARED)
 * for every preserved object, providers before consumers. Pin what must not move and preserve the
 * object's memory through `ctx.preserveFolio` / `ctx.preservePages` (undone automatically on cancel).
 * Throwing cancels the update; everything done so far is undone in reverse order.
 *
 * @typeParam O - the driver's object type.
 */
export interface OnPrepare<O = unknown> {
  /** Prepares `object` for the update. */
  onPrepare(object: O, ctx: PrepareContext): void;
}

/** `prepare` of an FLB: runs before the first object that needs the shared state is prepared. */
export interface OnFlbPrepare {
  /** Prepares the shared state. */
  onPrepare(ctx: FlbPrepareContext): void;
}

/** The function type of a driver `prepare` hook. */
export type PrepareHook<O = never> = (object: O, ctx: PrepareContext) => void;

/** The function type of an FLB `prepare` hook. */
export type FlbPrepareHook = (ctx: FlbPrepareContext) => void;
