import type { FlbFreezeHook, FreezeHook } from "../hooks/freeze.hook.js";
import { markHook } from "./hook-decorator.js";

/**
 * Marks the method implementing the `freeze` hook (upstream `freeze`; interfaces `OnFreeze`, `OnFlbFreeze`). The method's signature is checked
 * against the hook's contract; see the hook's interface for when it runs and what it must do.
 *
 * @example
 * ```ts
 * @Freeze()
 * quiesce(counter: Counter) {
 *   counter.stop();
 * }
 * ```
 */
export function Freeze(): <T extends FreezeHook | FlbFreezeHook>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<T>,
) => void {
  return markHook("freeze");
}
