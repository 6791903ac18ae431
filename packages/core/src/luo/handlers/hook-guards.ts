import type {
  CancelContext,
  FinishContext,
  FlbCancelContext,
  FlbFinishContext,
  FlbFreezeContext,
  FlbPrepareContext,
  FlbRestoreContext,
  FlbSerializeContext,
  FreezeContext,
  PrepareContext,
  RestoreContext,
  SerializeContext,
} from "./contexts.js";
import { DriverHookAsyncError } from "./errors.js";
import { type FlbHookName, HOOK_METHOD_NAMES, type HookName } from "./hook-names.js";
import { getHandlerMetadata, getHookMethods } from "./metadata.js";

/** The hooks of a driver instance as the orchestrator calls them (object type erased). */
export interface DriverHookTable {
  /** See `CanPreserve`. */
  readonly canPreserve: (object: unknown) => boolean;
  /** See `OnPrepare`. */
  readonly prepare: (object: unknown, ctx: PrepareContext) => void;
  /** See `OnSerialize`. */
  readonly serialize: (object: unknown, ctx: SerializeContext) => unknown;
  /** See `OnFreeze`. */
  readonly freeze: (object: unknown, ctx: FreezeContext) => void;
  /** See `OnCancel`. */
  readonly cancel: (object: unknown, ctx: CancelContext) => void;
  /** See `OnRestore`. */
  readonly restore: (state: unknown, ctx: RestoreContext) => unknown;
  /** See `CanFinish`. */
  readonly canFinish: (object: unknown, ctx: FinishContext) => boolean;
  /** See `OnFinish`. */
  readonly finish: (object: unknown, ctx: FinishContext) => void;
}

/** The hooks of an FLB instance as the orchestrator calls them. */
export interface FlbHookTable {
  /** See `OnFlbPrepare`. */
  readonly prepare: (ctx: FlbPrepareContext) => void;
  /** See `OnFlbSerialize`. */
  readonly serialize: (ctx: FlbSerializeContext) => unknown;
  /** See `OnFlbFreeze`. */
  readonly freeze: (ctx: FlbFreezeContext) => void;
  /** See `OnFlbCancel`. */
  readonly cancel: (ctx: FlbCancelContext) => void;
  /** See `OnFlbRestore`. */
  readonly restore: (state: unknown, ctx: FlbRestoreContext) => void;
  /** See `OnFlbFinish`. */
  readonly finish: (ctx: FlbFinishContext) => void;
}

function methodKey(instance: object, hook: HookName): string | symbol | undefined {
  const decorated = getHookMethods(instance.constructor)[hook];
  if (decorated !== undefined) return decorated;
  const conventional = HOOK_METHOD_NAMES[hook];
  return typeof (instance as Record<string, unknown>)[conventional] === "function" ? conventional : undefined;
}

function isThenable(value: unknown): boolean {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

type BoundHook = (a?: unknown, b?: unknown) => unknown;

/**
 * Bound hooks per driver instance, resolved once: metadata lookups (reflect-metadata) cost
 * microseconds per call, which adds up to milliseconds of blackout with thousands of objects.
 */
const boundHooks = new WeakMap<object, Map<HookName, BoundHook | null>>();

function bind(instance: object, hook: HookName): BoundHook | undefined {
  let table = boundHooks.get(instance);
  if (table === undefined) {
    table = new Map();
    boundHooks.set(instance, table);
  }
  let bound = table.get(hook);
  if (bound === undefined) {
    bound = resolveHook(instance, hook) ?? null;
    table.set(hook, bound);
  }
  return bound ?? undefined;
}

function resolveHook(instance: object, hook: HookName): BoundHook | undefined {
  const key = methodKey(instance, hook);
  if (key === undefined) return undefined;
  const method = (instance as Record<string | symbol, unknown>)[key];
  if (typeof method !== "function") return undefined;
  const name = getHandlerMetadata(instance.constructor)?.name ?? instance.constructor.name;
  // Hooks take at most two arguments (object or state, context): no rest array per call.
  return (a?: unknown, b?: unknown) => {
    const result = (method as (...x: unknown[]) => unknown).call(instance, a, b);
    if (isThenable(result)) {
      (result as Promise<unknown>).then(undefined, () => undefined);
      throw new DriverHookAsyncError(name, hook);
    }
    return result;
  };
}

/** True when `instance` implements `hook` (decorated method or conventional interface method). */
export function hasHook(instance: object, hook: HookName): boolean {
  return methodKey(instance, hook) !== undefined;
}

/**
 * The typed guard through which core invokes a driver hook: returns the hook bound to `instance`
 * with its contract's signature, or `undefined` when the driver does not implement it. The bound
 * function throws {@link DriverHookAsyncError} if the hook returns a promise.
 *
 * @param instance - a driver instance.
 * @param hook - which hook.
 * @example
 * ```ts
 * const prepare = hookOf(driver, "prepare");
 * prepare?.(object, ctx);
 * ```
 */
export function hookOf<H extends HookName>(instance: object, hook: H): DriverHookTable[H] | undefined {
  return bind(instance, hook) as DriverHookTable[H] | undefined;
}

/**
 * Like {@link hookOf}, for an FLB instance.
 *
 * @param instance - an FLB instance.
 * @param hook - which hook.
 */
export function flbHookOf<H extends FlbHookName>(instance: object, hook: H): FlbHookTable[H] | undefined {
  return bind(instance, hook) as FlbHookTable[H] | undefined;
}
