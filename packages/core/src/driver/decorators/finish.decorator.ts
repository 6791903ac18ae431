import type { FinishHook, FlbFinishHook } from "../hooks/finish.hook.js";
import { markHook } from "./hook-decorator.js";

/**
 * Marks the method implementing the `finish` hook (upstream `finish`; interfaces `OnFinish`, `OnFlbFinish`). The method's signature is checked
 * against the hook's contract; see the hook's interface for when it runs and what it must do.
 *
 * @example
 * ```ts
 * @Finish()
 * done(counter: Counter) {
 *   counter.dropOldMappings();
 * }
 * ```
 */
export function Finish(): <T extends FinishHook | FlbFinishHook>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<T>,
) => void {
  return markHook("finish");
}
