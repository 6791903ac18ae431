import type { CanFinishHook } from "../hooks/can-finish.hook.js";
import { markHook } from "./hook-decorator.js";

/**
 * Marks the method implementing the `canFinish` hook (upstream `can_finish`; interface `CanFinish`). The method's signature is checked
 * against the hook's contract; see the hook's interface for when it runs and what it must do.
 *
 * @example
 * ```ts
 * @FinishCheck()
 * idle(counter: Counter): boolean {
 *   return counter.pendingDma === 0;
 * }
 * ```
 */
export function FinishCheck(): <T extends CanFinishHook>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<T>,
) => void {
  return markHook("canFinish");
}
