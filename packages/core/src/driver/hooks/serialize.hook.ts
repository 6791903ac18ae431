import type { FlbSerializeContext, SerializeContext } from "../../luo/handlers/contexts.js";

/**
 * `serialize` — second half of upstream `preserve`: returns the object's state as a value of the
 * driver's **native** schema version. The orchestrator migrates it to the negotiated version,
 * encodes it into preserved memory and records its physical address in the LUO handover. Runs at
 * prepare (relaxed), at freeze (strict), and again at freeze for objects dirtied during brownout.
 * Required.
 *
 * @typeParam O - the driver's object type.
 * @typeParam S - the native state value type (`Infer` of the native version's struct).
 */
export interface OnSerialize<O = unknown, S = unknown> {
  /** Captures `object`'s state. Must not change it. */
  onSerialize(object: O, ctx: SerializeContext): S;
}

/** `serialize` of an FLB: the shared state as a native-version value. Required for FLBs. */
export interface OnFlbSerialize<S = unknown> {
  /** Captures the shared state. */
  onSerialize(ctx: FlbSerializeContext): S;
}

/** The function type of a driver `serialize` hook. */
export type SerializeHook<O = never, S = unknown> = (object: O, ctx: SerializeContext) => S;

/** The function type of an FLB `serialize` hook. */
export type FlbSerializeHook<S = unknown> = (ctx: FlbSerializeContext) => S;
