import type { HookName } from "../../luo/handlers/hook-names.js";
import { defineHookMethod } from "../../luo/handlers/metadata.js";

/**
 * The method decorator every hook decorator returns: records `key` as the method implementing
 * `hook` on the decorated class.
 *
 * @param hook - which hook.
 * @internal
 */
export function markHook(hook: HookName): (target: object, key: string | symbol) => void {
  return (target, key) => {
    defineHookMethod(target.constructor, hook, key);
  };
}
