import type { FlbPrepareHook, PrepareHook } from "../hooks/prepare.hook.js";
import { markHook } from "./hook-decorator.js";

/**
 * Marks the method implementing the `prepare` hook (upstream `preserve`; interfaces `OnPrepare`, `OnFlbPrepare`). The method's signature is checked
 * against the hook's contract; see the hook's interface for when it runs and what it must do.
 *
 * @example
 * ```ts
 * @Prepare()
 * pin(counter: Counter, ctx: PrepareContext) {
 *   ctx.preservePages(counter.ring, counter.ringPages);
 * }
 * ```
 */
export function Prepare(): <T extends PrepareHook | FlbPrepareHook>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<T>,
) => void {
  return markHook("prepare");
}
