import type { PhaseGuardDeclaration } from "./metadata.js";

/**
 * What a `@PhaseGuard` operation consults before it runs: the orchestrator of the instance's boot
 * attaches one gate per driver instance. It either returns (allowed, possibly marking the object
 * dirty) or throws a typed error carrying errno `EBUSY`.
 */
export interface OperationGate {
  /**
   * Called before the guarded method runs.
   *
   * @param instance - the driver (or FLB) instance the method runs on.
   * @param guard - the operation's declaration.
   * @param args - the call's arguments.
   */
  enter(instance: object, guard: PhaseGuardDeclaration, args: readonly unknown[]): void;
}

const gates = new WeakMap<object, OperationGate>();

/**
 * Attaches `gate` to a driver instance (the orchestrator does this for every instance it
 * resolves). Instances without a gate — constructed by hand in a unit test — run guarded
 * operations unchecked.
 *
 * @param instance - the instance (raw object and proxy are both attached by the orchestrator).
 * @param gate - the gate.
 */
export function attachOperationGate(instance: object, gate: OperationGate): void {
  gates.set(instance, gate);
}

/** The gate attached to `instance`, if any. */
export function operationGateOf(instance: object): OperationGate | undefined {
  return gates.get(instance);
}
