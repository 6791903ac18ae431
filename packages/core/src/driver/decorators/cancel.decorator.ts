import type { CancelHook, FlbCancelHook } from "../hooks/cancel.hook.js";
import { markHook } from "./hook-decorator.js";

/**
 * Marks the method implementing the `cancel` hook (upstream `unfreeze` + `unpreserve`; interfaces `OnCancel`, `OnFlbCancel`). The method's signature is checked
 * against the hook's contract; see the hook's interface for when it runs and what it must do.
 *
 * @example
 * ```ts
 * @Cancel()
 * resume(counter: Counter, ctx: CancelContext) {
 *   if (ctx.frozen) counter.start();
 * }
 * ```
 */
export function Cancel(): <T extends CancelHook | FlbCancelHook>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<T>,
) => void {
  return markHook("cancel");
}
