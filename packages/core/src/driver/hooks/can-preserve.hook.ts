/**
 * `canPreserve` — upstream `can_preserve`: does this driver handle `object`? The orchestrator asks
 * every driver of the build when a session preserves an object without naming its driver; exactly
 * the first (in dependency order) that answers `true` handles it.
 *
 * @example
 * ```ts
 * class CounterDriver implements CanPreserve {
 *   canPreserve(object: unknown): boolean {
 *     return object instanceof Counter;
 *   }
 * }
 * ```
 */
export interface CanPreserve {
  /** Returns true when this driver can preserve `object` (a type test, no side effects). */
  canPreserve(object: unknown): boolean;
}

/** The function type of a `canPreserve` hook (what `@CanPreserve()` accepts). */
export type CanPreserveHook = (object: unknown) => boolean;
