/**
 * Every `reflect-metadata` key the driver SDK defines, in one place (as NestJS keeps its
 * `constants.ts`). Values are namespaced strings so they never collide with tsyringe's own keys
 * (`design:paramtypes`, `injectionTokens`).
 *
 * @module
 */

/** Class metadata of a `@LiveUpdateDriver` class: its normalized `DriverMetadata`. */
export const DRIVER_METADATA = "liveupdate:driver";

/** Class metadata of a `@LiveUpdateFlb` class (File-Lifecycle-Bound shared state): its `FlbMetadata`. */
export const FLB_METADATA = "liveupdate:flb";

/** Class metadata: which method implements which participation hook (`Record<HookName, key>`). */
export const HOOKS_METADATA = "liveupdate:hooks";

/** Class metadata: the `@PhaseGuard` operations of the class, in declaration order. */
export const PHASE_GUARDS_METADATA = "liveupdate:phase-guards";
