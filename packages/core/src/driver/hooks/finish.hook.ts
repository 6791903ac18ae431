import type { FinishContext, FlbFinishContext } from "../../luo/handlers/contexts.js";

/**
 * `finish` — upstream `finish`: the update is over for this object (its session is finished);
 * release what was kept only for the handover. Consumers finish before providers. Must not fail:
 * an exception is recorded in the timeline.
 *
 * @typeParam O - the driver's object type.
 */
export interface OnFinish<O = unknown> {
  /** Completes the update for `object`. */
  onFinish(object: O, ctx: FinishContext): void;
}

/** `finish` of an FLB: runs after the last object that needed it finished. */
export interface OnFlbFinish {
  /** Completes the update for the shared state. */
  onFinish(ctx: FlbFinishContext): void;
}

/** The function type of a driver `finish` hook. */
export type FinishHook<O = never> = (object: O, ctx: FinishContext) => void;

/** The function type of an FLB `finish` hook. */
export type FlbFinishHook = (ctx: FlbFinishContext) => void;
