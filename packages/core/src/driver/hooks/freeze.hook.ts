import type { FlbFreezeContext, FreezeContext } from "../../luo/handlers/contexts.js";

/**
 * `freeze` — upstream `freeze`: the start of blackout (PREPARED → FROZEN). Consumers freeze before
 * their providers. Quiesce what still changes the object's state. Throwing cancels the update.
 *
 * @typeParam O - the driver's object type.
 */
export interface OnFreeze<O = unknown> {
  /** Freezes `object`. */
  onFreeze(object: O, ctx: FreezeContext): void;
}

/** `freeze` of an FLB: runs after every object that needs it froze. */
export interface OnFlbFreeze {
  /** Freezes the shared state. */
  onFreeze(ctx: FlbFreezeContext): void;
}

/** The function type of a driver `freeze` hook. */
export type FreezeHook<O = never> = (object: O, ctx: FreezeContext) => void;

/** The function type of an FLB `freeze` hook. */
export type FlbFreezeHook = (ctx: FlbFreezeContext) => void;
