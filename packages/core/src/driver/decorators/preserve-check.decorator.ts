import type { CanPreserveHook } from "../hooks/can-preserve.hook.js";
import { markHook } from "./hook-decorator.js";

/**
 * Marks the method implementing the `canPreserve` hook (upstream `can_preserve`; interface `CanPreserve`). The method's signature is checked
 * against the hook's contract; see the hook's interface for when it runs and what it must do.
 *
 * @example
 * ```ts
 * @PreserveCheck()
 * handles(object: unknown): boolean {
 *   return object instanceof Counter;
 * }
 * ```
 */
export function PreserveCheck(): <T extends CanPreserveHook>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<T>,
) => void {
  return markHook("canPreserve");
}
