import "reflect-metadata";
import { normalizeHandlerOptions } from "../../luo/handlers/metadata.js";
import { FLB_METADATA } from "../../luo/handlers/metadata-keys.js";
import type { FlbClass, LiveUpdateFlbOptions } from "../../luo/handlers/types.js";
import { injectableUnit } from "./injectable-unit.js";

/**
 * Declares File-Lifecycle-Bound shared state (upstream's FLB): driver-global state many objects
 * need — e.g. iommufd's table of domains shared by many devices. Drivers list it in
 * `@LiveUpdateDriver({ flbs: [...] })`. It is preserved (prepared, serialized) with the first
 * preserved object that needs it, frozen after the last of them froze, cancelled after the last was
 * cancelled, restored in the new kernel before the first of them restores, and finished after the
 * last finished. One instance per boot; drivers receive it by constructor injection.
 *
 * Hooks: `@Prepare()`, `@Serialize()` (required), `@Freeze()`, `@Cancel()`, `@Restore()`
 * (required), `@Finish()` — or methods `onPrepare(ctx)`, `onSerialize(ctx)`, … (no object argument).
 *
 * @param options - schema, versions, restore policy (see {@link LiveUpdateFlbOptions}).
 * @throws {@link DriverDeclarationError} when the options are invalid.
 *   A class that inherits its constructor gets the metadata of the nearest base that has it (decorate
 *   that base with `@injectable()`); an inherited constructor with parameters but no metadata is
 *   refused.
 * @example
 * ```ts
 * @LiveUpdateFlb({ schema: DomainTableSchema })
 * class DomainTable implements OnFlbSerialize<DomainTableV1>, OnFlbRestore<DomainTableV1> {
 *   domains = new Map<number, number>();
 *   onSerialize() { return { domains: [...this.domains].map(([id, root]) => ({ id, root: BigInt(root) })) }; }
 *   onRestore(state: DomainTableV1) { for (const d of state.domains) this.domains.set(d.id, Number(d.root)); }
 * }
 * ```
 */
export function LiveUpdateFlb(options: LiveUpdateFlbOptions): <C extends FlbClass>(target: C) => void {
  return (target) => {
    const meta = normalizeHandlerOptions("flb", target, options);
    Reflect.defineMetadata(FLB_METADATA, meta, target);
    injectableUnit(target, meta.name);
  };
}
