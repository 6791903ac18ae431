import type { FlbSerializeHook, SerializeHook } from "../hooks/serialize.hook.js";
import { markHook } from "./hook-decorator.js";

/**
 * Marks the method implementing the `serialize` hook (upstream `preserve`; interfaces `OnSerialize`, `OnFlbSerialize`). The method's signature is checked
 * against the hook's contract; see the hook's interface for when it runs and what it must do.
 *
 * @example
 * ```ts
 * @Serialize()
 * save(counter: Counter): CounterV2 {
 *   return { ring: BigInt(counter.ring), head: counter.head };
 * }
 * ```
 */
export function Serialize(): <T extends SerializeHook | FlbSerializeHook>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<T>,
) => void {
  return markHook("serialize");
}
