import "reflect-metadata";
import { LiveUpdateDriver } from "../driver/decorators/live-update-driver.decorator.js";
import { DriverDeclarationError } from "../luo/handlers/errors.js";
import { HOOK_METHOD_NAMES } from "../luo/handlers/hook-names.js";
import { defineHookMethod, getDriverMetadata, getHookMethods } from "../luo/handlers/metadata.js";
import type {
  DriverClass,
  DriverMetadata,
  LiveUpdateDriverOptions,
  RestorePolicy,
} from "../luo/handlers/types.js";

/** The catalog a {@link withCatalog} variant declares instead of its base class's. */
export interface CatalogOverride {
  /** Versions the variant writes (default: the base class's). */
  readonly writes?: readonly number[];
  /** Versions the variant reads (default: the base class's). */
  readonly reads?: readonly number[];
}

/** tsyringe's key for `@inject()` parameter tokens (own metadata: not inherited by subclasses). */
const INJECTION_TOKENS = "injectionTokens";

const cache = new WeakMap<DriverClass, Map<string, DriverClass>>();

function cached(Driver: DriverClass, key: string, make: () => DriverClass): DriverClass {
  let variants = cache.get(Driver);
  if (variants === undefined) {
    variants = new Map();
    cache.set(Driver, variants);
  }
  let variant = variants.get(key);
  if (variant === undefined) {
    variant = make();
    variants.set(key, variant);
  }
  return variant;
}

function metadataOf(Driver: DriverClass, what: string): DriverMetadata {
  const meta = getDriverMetadata(Driver);
  if (meta === undefined) {
    throw new DriverDeclarationError(`${what}: ${Driver.name} is not a @LiveUpdateDriver class`, {
      driver: Driver.name,
    });
  }
  return meta;
}

/** A subclass of `Driver` named `name`, decorated with `options`, keeping `@inject()` tokens. */
function subclass(
  Driver: DriverClass,
  name: string,
  options: LiveUpdateDriverOptions,
  extend?: (Variant: new (...args: unknown[]) => object) => void,
): DriverClass {
  const Base = Driver as unknown as new (...args: unknown[]) => object;
  const Variant = class extends Base {};
  Object.defineProperty(Variant, "name", { value: name });
  const tokens = Reflect.getOwnMetadata(INJECTION_TOKENS, Driver) as object | undefined;
  if (tokens !== undefined) Reflect.defineMetadata(INJECTION_TOKENS, { ...tokens }, Variant);
  extend?.(Variant);
  LiveUpdateDriver(options)(Variant as unknown as DriverClass);
  return Variant as unknown as DriverClass;
}

function optionsOf(meta: DriverMetadata): LiveUpdateDriverOptions {
  return {
    schema: meta.schema,
    native: meta.native,
    writes: meta.writes,
    reads: meta.reads,
    restorePolicy: meta.restorePolicy,
    ...(meta.serializeAt !== undefined ? { serializeAt: meta.serializeAt } : {}),
    allowLossy: meta.allowLossy,
    flbs: meta.flbs,
    dependsOn: meta.dependsOn,
    provides: meta.provides,
  };
}

/**
 * A subclass of a `@LiveUpdateDriver` class that declares another catalog (the versions it writes
 * and reads) and is otherwise the same driver: same schema, native version, hooks, phase guards,
 * FLBs, dependencies and restore policy. Use it to synthesize kernel builds whose catalogs differ
 * — e.g. a writer build that only writes v1 and a reader build that only reads v1 — without
 * writing a class per combination. Variants are cached: equal overrides give the same class.
 *
 * The native version cannot change (the driver's code produces and consumes native values).
 * In a build that ships the variant instead of the base class, the variant stands in for it:
 * drivers that inject the base class by type receive the variant, and `Luo.driver(Base)` returns it.
 *
 * @param Driver - the driver class.
 * @param override - writable and readable versions.
 * @throws `DriverDeclarationError` when `Driver` is not a driver class or the catalog is invalid.
 * @example
 * ```ts
 * const writesV1 = defineKernelBuild({ version: "w1", drivers: [withCatalog(CounterRingDriver, { writes: [1] })] });
 * const readsV1 = defineKernelBuild({ version: "r1", drivers: [withCatalog(CounterRingDriver, { reads: [1] })] });
 * ```
 */
export function withCatalog<C extends DriverClass>(Driver: C, override: CatalogOverride): C {
  const meta = metadataOf(Driver, "withCatalog");
  const writes = [...(override.writes ?? meta.writes)].sort((a, b) => a - b);
  const reads = [...(override.reads ?? meta.reads)].sort((a, b) => a - b);
  const key = `w${writes.join(",")}/r${reads.join(",")}`;
  return cached(Driver, key, () =>
    subclass(Driver, `${Driver.name}[${key}]`, { ...optionsOf(meta), writes, reads }),
  ) as C;
}

/**
 * A subclass of a `@LiveUpdateDriver` class whose *native* version is `native` instead of the
 * class's own: an adapter around the driver's serialize and restore hooks that migrates the
 * driver's native values to `native` on the way out and back on the way in (through the schema's
 * migrators, refusing lossy steps unless the driver allows them). It writes and reads only
 * `native`. It plays "a build whose driver speaks v*N* natively" against the real driver:
 *
 * - real driver → `withNative(Driver, 1)`: the driver must write v1 (negotiation leaves no other
 *   choice), and the adapter restores it through the driver's own restore hook;
 * - `withNative(Driver, 1)` → real driver: the driver must restore a handover written at v1.
 *
 * @param Driver - the driver class.
 * @param native - the version the adapter speaks (a version of the driver's schema).
 * @throws `DriverDeclarationError` when `Driver` is not a driver class or `native` is unknown.
 * @example
 * ```ts
 * const oldBuild = defineKernelBuild({ version: "old", drivers: [withNative(CounterRingDriver, 1)] });
 * ```
 */
export function withNative<C extends DriverClass>(Driver: C, native: number): C {
  const meta = metadataOf(Driver, "withNative");
  if (!meta.schema.has(native)) {
    throw new DriverDeclarationError(`withNative: ${meta.name} has no version ${native}`, {
      driver: meta.name,
      version: native,
    });
  }
  if (native === meta.native) return withCatalog(Driver, { writes: [native], reads: [native] });
  const hooks = getHookMethods(Driver);
  const serializeKey = hooks.serialize ?? HOOK_METHOD_NAMES.serialize;
  const restoreKey = hooks.restore ?? HOOK_METHOD_NAMES.restore;
  const schema = meta.schema;
  const policy = { allowLossy: meta.allowLossy };
  return cached(Driver, `native${native}`, () =>
    subclass(
      Driver,
      `${Driver.name}[native v${native}]`,
      { ...optionsOf(meta), native, writes: [native], reads: [native] },
      (Variant) => {
        const proto = Variant.prototype as Record<string | symbol, unknown>;
        const base = Object.getPrototypeOf(proto) as Record<string | symbol, (...args: unknown[]) => unknown>;
        proto[ADAPTER_SERIALIZE] = function (this: object, object: unknown, ctx: unknown): unknown {
          const value = base[serializeKey]!.call(this, object, ctx);
          return schema.migrate(value as never, meta.native, native, policy).value;
        };
        proto[ADAPTER_RESTORE] = function (this: object, state: unknown, ctx: unknown): unknown {
          const value = schema.migrate(state as never, native, meta.native, policy).value;
          return base[restoreKey]!.call(this, value, ctx);
        };
        defineHookMethod(Variant, "serialize", ADAPTER_SERIALIZE);
        defineHookMethod(Variant, "restore", ADAPTER_RESTORE);
      },
    ),
  ) as C;
}

/**
 * A subclass of a `@LiveUpdateDriver` class with another restore policy and otherwise the same
 * driver (schema, catalog, hooks, guards, FLBs, dependencies). A driver declares one policy; tests
 * and products that want the other one for the same code — "abort the boot" versus "reset the
 * object and report it" — build with this variant. Variants are cached per policy.
 *
 * @param Driver - the driver class.
 * @param restorePolicy - `"abort"` or `"reset"`.
 * @throws `DriverDeclarationError` when `Driver` is not a driver class or the policy is unknown.
 * @example
 * ```ts
 * const lenient = defineKernelBuild({ version: "b", drivers: [withRestorePolicy(CounterRingDriver, "reset")] });
 * ```
 */
export function withRestorePolicy<C extends DriverClass>(Driver: C, restorePolicy: RestorePolicy): C {
  const meta = metadataOf(Driver, "withRestorePolicy");
  if (restorePolicy === meta.restorePolicy) return Driver;
  return cached(Driver, `policy:${restorePolicy}`, () =>
    subclass(Driver, `${Driver.name}[${restorePolicy}]`, { ...optionsOf(meta), restorePolicy }),
  ) as C;
}

const ADAPTER_SERIALIZE = "testkitAdapterSerialize";
const ADAPTER_RESTORE = "testkitAdapterRestore";
