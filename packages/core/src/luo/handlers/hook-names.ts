/**
 * The participation hooks a driver can implement. Each maps to one or more upstream
 * `liveupdate_file_ops` callbacks (see {@link UPSTREAM_FILE_OPS}).
 */
export type HookName =
  | "canPreserve"
  | "prepare"
  | "serialize"
  | "freeze"
  | "cancel"
  | "restore"
  | "canFinish"
  | "finish";

/** The hooks an FLB (shared state) can implement (upstream `liveupdate_flb_ops`). */
export type FlbHookName = "prepare" | "serialize" | "freeze" | "cancel" | "restore" | "finish";

/** Every hook name, in lifecycle order. */
export const HOOK_NAMES: readonly HookName[] = Object.freeze([
  "canPreserve",
  "prepare",
  "serialize",
  "freeze",
  "cancel",
  "restore",
  "canFinish",
  "finish",
]);

/**
 * Conventional method names: a class implementing the hook's interface (`OnPrepare` → `onPrepare`)
 * needs no decorator, as with NestJS lifecycle interfaces. A decorator on another method wins.
 */
export const HOOK_METHOD_NAMES: Readonly<Record<HookName, string>> = Object.freeze({
  canPreserve: "canPreserve",
  prepare: "onPrepare",
  serialize: "onSerialize",
  freeze: "onFreeze",
  cancel: "onCancel",
  restore: "onRestore",
  canFinish: "canFinish",
  finish: "onFinish",
});

/**
 * How each hook maps to upstream's `struct liveupdate_file_ops` (Linux LUO). Upstream's `preserve`
 * does both our `prepare` (pin and preserve memory) and `serialize` (write the state blob); we split
 * them so a dirty object can be re-serialized at freeze without being prepared again. Our `cancel`
 * is `unfreeze` (when frozen) followed by `unpreserve`.
 */
export const UPSTREAM_FILE_OPS: Readonly<Record<HookName, readonly string[]>> = Object.freeze({
  canPreserve: Object.freeze(["can_preserve"]),
  prepare: Object.freeze(["preserve"]),
  serialize: Object.freeze(["preserve"]),
  freeze: Object.freeze(["freeze"]),
  cancel: Object.freeze(["unfreeze", "unpreserve"]),
  restore: Object.freeze(["retrieve"]),
  canFinish: Object.freeze(["can_finish"]),
  finish: Object.freeze(["finish"]),
});

/** How each FLB hook maps to upstream's `struct liveupdate_flb_ops`. */
export const UPSTREAM_FLB_OPS: Readonly<Record<FlbHookName, readonly string[]>> = Object.freeze({
  prepare: Object.freeze(["preserve"]),
  serialize: Object.freeze(["preserve"]),
  freeze: Object.freeze([]),
  cancel: Object.freeze(["unpreserve"]),
  restore: Object.freeze(["retrieve"]),
  finish: Object.freeze(["finish"]),
});
