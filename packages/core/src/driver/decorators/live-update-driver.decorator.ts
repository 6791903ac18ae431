import "reflect-metadata";
import { normalizeHandlerOptions } from "../../luo/handlers/metadata.js";
import { DRIVER_METADATA } from "../../luo/handlers/metadata-keys.js";
import type { DriverClass, LiveUpdateDriverOptions } from "../../luo/handlers/types.js";
import { injectableUnit } from "./injectable-unit.js";

/**
 * Declares a live-update driver: its versioned state schema (compatible strings
 * `<schema.name>-v<N>`), the versions this build reads and writes, its restore policy, the FLBs its
 * objects need, and extra dependencies. The class becomes injectable: the per-boot container
 * constructs it with the kernel, KHO, machine, orchestrator and other drivers it asks for.
 *
 * Hooks are methods marked with `@Prepare()`, `@Serialize()`, `@Freeze()`, `@Cancel()`,
 * `@Restore()`, `@Finish()`, `@PreserveCheck()`, `@FinishCheck()` — or methods named after the hook
 * interfaces (`onPrepare`, …, `canPreserve`, `canFinish`). `serialize` and `restore` are required.
 *
 * @param options - the declaration (see {@link LiveUpdateDriverOptions}).
 * @throws {@link DriverDeclarationError} at class definition when the options are invalid.
 *   A class that inherits its constructor gets the metadata of the nearest base that has it (decorate
 *   that base with `@injectable()`); an inherited constructor with parameters but no metadata is
 *   refused.
 * @example
 * ```ts
 * @LiveUpdateDriver({ schema: CounterSchema, restorePolicy: "reset" })
 * class CounterDriver implements CanPreserve, OnSerialize<Counter, CounterV2>, OnRestore<Counter, CounterV2> {
 *   constructor(readonly kernel: Kernel) {}
 *   canPreserve(object: unknown) { return object instanceof Counter; }
 *   onSerialize(counter: Counter) { return counter.state(); }
 *   onRestore(state: CounterV2) { return Counter.from(state); }
 * }
 * ```
 */
export function LiveUpdateDriver(
  options: LiveUpdateDriverOptions,
): <C extends DriverClass>(target: C) => void {
  return (target) => {
    const meta = normalizeHandlerOptions("driver", target, options);
    Reflect.defineMetadata(DRIVER_METADATA, meta, target);
    injectableUnit(target, meta.name);
  };
}
