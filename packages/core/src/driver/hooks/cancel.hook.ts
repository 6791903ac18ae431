import type { CancelContext, FlbCancelContext } from "../../luo/handlers/contexts.js";

/**
 * `cancel` — upstream `unfreeze` (when `ctx.frozen`) followed by `unpreserve`: undo prepare (and
 * freeze). Runs in reverse order (consumers first) when an update is cancelled, when a later hook
 * fails, when the object is unpreserved during brownout, or when its session is closed. Must not
 * fail: an exception is recorded in the timeline and the cancellation carries on.
 *
 * @typeParam O - the driver's object type.
 */
export interface OnCancel<O = unknown> {
  /** Undoes prepare/freeze for `object`. */
  onCancel(object: O, ctx: CancelContext): void;
}

/** `cancel` of an FLB: runs after the last object that needed it was cancelled. */
export interface OnFlbCancel {
  /** Undoes prepare/freeze of the shared state. */
  onCancel(ctx: FlbCancelContext): void;
}

/** The function type of a driver `cancel` hook. */
export type CancelHook<O = never> = (object: O, ctx: CancelContext) => void;

/** The function type of an FLB `cancel` hook. */
export type FlbCancelHook = (ctx: FlbCancelContext) => void;
