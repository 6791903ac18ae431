import type { FlbRestoreHook, RestoreHook } from "../hooks/restore.hook.js";
import { markHook } from "./hook-decorator.js";

/**
 * Marks the method implementing the `restore` hook (upstream `retrieve`; interfaces `OnRestore`, `OnFlbRestore`). The method's signature is checked
 * against the hook's contract; see the hook's interface for when it runs and what it must do.
 *
 * @example
 * ```ts
 * @Restore()
 * adopt(state: CounterV2, ctx: RestoreContext): Counter {
 *   return new Counter(ctx.restoreFolio(Number(state.ring), 0), state.head);
 * }
 * ```
 */
export function Restore(): <T extends RestoreHook | FlbRestoreHook>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<T>,
) => void {
  return markHook("restore");
}
