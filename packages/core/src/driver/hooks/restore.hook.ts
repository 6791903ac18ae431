import type { FlbRestoreContext, RestoreContext } from "../../luo/handlers/contexts.js";

/**
 * `restore` — upstream `retrieve`: in the new kernel, rebuilds the object from its state (already
 * decoded, validated and migrated to this build's native version) and reclaims its memory through
 * `ctx.restoreFolio`. Providers restore before consumers. A failure is handled by the driver's
 * restore policy (`abort` or `reset`). Required.
 *
 * @typeParam O - the driver's object type.
 * @typeParam S - the native state value type.
 */
export interface OnRestore<O = unknown, S = unknown> {
  /** Returns the restored object. */
  onRestore(state: S, ctx: RestoreContext): O;
}

/** `restore` of an FLB: runs before the first object that needs it restores. Required for FLBs. */
export interface OnFlbRestore<S = unknown> {
  /** Restores the shared state into this (fresh) FLB instance. */
  onRestore(state: S, ctx: FlbRestoreContext): void;
}

/** The function type of a driver `restore` hook. */
export type RestoreHook<O = unknown, S = never> = (state: S, ctx: RestoreContext) => O;

/** The function type of an FLB `restore` hook. */
export type FlbRestoreHook<S = never> = (state: S, ctx: FlbRestoreContext) => void;
