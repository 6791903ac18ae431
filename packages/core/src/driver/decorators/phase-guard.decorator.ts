import { DriverDeclarationError } from "../../luo/handlers/errors.js";
import { addPhaseGuard, type PhaseGuardDeclaration } from "../../luo/handlers/metadata.js";
import { operationGateOf } from "../../luo/handlers/operation-gate.js";

/** Options of {@link PhaseGuard}. */
export interface PhaseGuardOptions {
  /**
   * During brownout (PREPARED): `dirty` allows the change and marks the object dirty, so it is
   * re-serialized at freeze; `refuse` throws `LuoOperationRefusedError` (errno `EBUSY`).
   * During blackout (FROZEN) a guarded operation is always refused.
   */
  readonly brownout: "dirty" | "refuse";
  /** In UPDATED (restored, session not yet finished): `allow` (default) or `refuse` (EBUSY). */
  readonly updated?: "allow" | "refuse";
  /**
   * Drivers only: picks the preserved object the operation changes from the arguments (default:
   * the first argument). Return one of the driver's FLB instances (as injected) to mark only that
   * FLB dirty; return `undefined` for driver-wide state: then every preserved object of the driver
   * and its FLBs count as changed. An FLB's own operations always change the FLB itself, so
   * `@LiveUpdateFlb` refuses a `target` on them.
   */
  readonly target?: (...args: never[]) => unknown;
  /** Operation name for errors and tables (default: the method name). */
  readonly name?: string;
  /** One-line description for the generated phase table. */
  readonly description?: string;
}

/**
 * The method decorator {@link PhaseGuard} returns.
 *
 * @typeParam T - the decorated method's type (any method).
 */
export type GuardedMethodDecorator = <T extends (...args: never[]) => unknown>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<T>,
) => void;

/**
 * Marks a driver (or FLB) operation that changes preserved state and declares in which phases it
 * is allowed: always in NORMAL; in PREPARED (brownout) with dirty tracking or refused; never in
 * FROZEN (blackout); in UPDATED unless refused. Objects that are not preserved are never
 * restricted — only explicitly preserved objects participate in an update. On an FLB, the
 * operation changes the FLB itself: restricted while the FLB is preserved (with its first user).
 * During brownout dirtiness is recorded once per object until it is re-serialized (one `dirty`
 * timeline event per object and brownout, however many calls).
 *
 * A refused call throws `LuoOperationRefusedError` (code `LUO_OPERATION_REFUSED`, errno `EBUSY`)
 * naming the driver, operation, phase, session and token. `phaseTable(DriverClass)` renders the
 * declarations as the "which operation in which phase" table.
 *
 * @param options - brownout behaviour, UPDATED behaviour, target picker.
 * @example
 * ```ts
 * @PhaseGuard({ brownout: "dirty" })
 * increment(counter: Counter, by: number) { counter.value += by; }
 *
 * @PhaseGuard({ brownout: "refuse", updated: "refuse" })
 * resize(counter: Counter, slots: number) { ... }
 * ```
 */
export function PhaseGuard(options: PhaseGuardOptions): GuardedMethodDecorator {
  if (typeof options !== "object" || options === null) {
    throw new DriverDeclarationError("@PhaseGuard: options are required");
  }
  if (options.brownout !== "dirty" && options.brownout !== "refuse") {
    throw new DriverDeclarationError(`@PhaseGuard: brownout must be "dirty" or "refuse"`, {
      brownout: options.brownout,
    });
  }
  const updated = options.updated ?? "allow";
  if (updated !== "allow" && updated !== "refuse") {
    throw new DriverDeclarationError(`@PhaseGuard: updated must be "allow" or "refuse"`, { updated });
  }
  const pick = options.target as ((...args: unknown[]) => unknown) | undefined;
  if (pick !== undefined && typeof pick !== "function") {
    throw new DriverDeclarationError("@PhaseGuard: target must be a function of the arguments");
  }
  return <T extends (...args: never[]) => unknown>(
    target: object,
    key: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): void => {
    const original = descriptor.value as unknown;
    const owner = (target.constructor as { name?: string }).name ?? "<class>";
    if (typeof original !== "function") {
      throw new DriverDeclarationError(`@PhaseGuard on ${owner}.${String(key)}: not a method`, {
        driver: owner,
        operation: String(key),
      });
    }
    const declaration: PhaseGuardDeclaration = Object.freeze({
      key,
      operation: options.name ?? String(key),
      brownout: options.brownout,
      updated,
      target:
        pick === undefined
          ? (args: readonly unknown[]) => args[0]
          : (args: readonly unknown[]) => pick(...args),
      explicitTarget: pick !== undefined,
      description: options.description,
    });
    const method = original as (...args: unknown[]) => unknown;
    const guarded = function (this: object, ...args: unknown[]): unknown {
      operationGateOf(this)?.enter(this, declaration, args);
      return method.apply(this, args);
    };
    Object.defineProperty(guarded, "name", { value: method.name });
    descriptor.value = guarded as unknown as T;
    addPhaseGuard(target.constructor, declaration);
  };
}
