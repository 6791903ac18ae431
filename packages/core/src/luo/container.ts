import "reflect-metadata";
import { type DependencyContainer, type InjectionToken, Lifecycle } from "tsyringe";
import { LiveUpdateError } from "../common/errors.js";
import { Machine } from "../hw/machine.js";
import type { KernelBuild } from "../kernel/build.js";
import { Kernel } from "../kernel/kernel.js";
import { Kho } from "../kho/kho.js";
import { DriverInjectionError } from "./handlers/errors.js";
import { KERNEL, KERNEL_BUILD, KHO, LUO, MACHINE, TIMELINE } from "./handlers/tokens.js";
import type { HandlerUnit } from "./registry.js";
import { Timeline } from "./timeline.js";

/** tsyringe's constructor type (not exported from its root). */
type Constructor<T> = new (...args: never[]) => T;

/** The services a boot container provides besides the drivers. */
export interface BootServices {
  /** The machine. */
  readonly machine: Machine;
  /** The running kernel. */
  readonly kernel: Kernel;
  /** Its KHO. */
  readonly kho: Kho;
  /** The build. */
  readonly build: KernelBuild;
  /** The machine's timeline. */
  readonly timeline: Timeline;
  /** The orchestrator (typed loosely to avoid an import cycle). */
  readonly luo: object;
  /** The orchestrator's class, to register it by type. */
  readonly luoClass: Constructor<unknown>;
}

/** A resolved driver or FLB instance: the raw object and the kernel-bound proxy handed out. */
export interface UnitInstance {
  /** The instance the container constructed. */
  readonly raw: object;
  /** What consumers receive: fails with `KernelGoneError` once the kernel rebooted. */
  readonly proxy: object;
}

/**
 * Wraps a driver instance so every property access and method call first checks that the kernel
 * of its boot is still alive: instances of an old kernel fail loudly with `KernelGoneError` after
 * kexec. Methods run with the raw instance as `this` (private fields keep working). Symbol keys and
 * `constructor` stay readable for introspection.
 *
 * @param raw - the instance.
 * @param kernel - the kernel of its boot.
 * @param name - driver name, for messages.
 */
export function kernelBound<T extends object>(raw: T, kernel: Kernel, name: string): T {
  const wrappers = new Map<PropertyKey, { original: unknown; wrapper: unknown }>();
  return new Proxy(raw, {
    get(target, prop) {
      // Introspection (symbols, the class, thenable probing) stays possible on a dead instance.
      if (typeof prop === "symbol" || prop === "constructor" || (prop === "then" && !(prop in target))) {
        return Reflect.get(target, prop, target);
      }
      kernel.assertAlive(`driver ${name}.${prop}`);
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function" || prop === "constructor") return value;
      const cached = wrappers.get(prop);
      if (cached !== undefined && cached.original === value) return cached.wrapper;
      const method = value as (...args: unknown[]) => unknown;
      const wrapper = (...args: unknown[]): unknown => {
        kernel.assertAlive(`driver ${name}.${prop}()`);
        return method.apply(target, args);
      };
      wrappers.set(prop, { original: value, wrapper });
      return wrapper;
    },
    set(target, prop, value) {
      if (typeof prop !== "symbol") kernel.assertAlive(`driver ${name}.${prop}`);
      return Reflect.set(target, prop, value, target);
    },
  });
}

/**
 * Creates the per-boot child container, registers the kernel services and every driver and FLB of
 * the build (singletons, handed out as kernel-bound proxies), and resolves them in dependency order.
 *
 * @param parent - the container to derive from.
 * @param services - kernel services.
 * @param units - the build's units in dependency order.
 * @returns the container and the instances per unit.
 * @throws {@link DriverInjectionError} when a driver cannot be constructed.
 */
export function createBootContainer(
  parent: DependencyContainer,
  services: BootServices,
  units: readonly HandlerUnit[],
): { container: DependencyContainer; instances: Map<HandlerUnit, UnitInstance> } {
  const container = parent.createChildContainer();
  const put = <T>(cls: unknown, token: InjectionToken<T>, value: T): void => {
    container.registerInstance(cls as InjectionToken<T>, value);
    container.registerInstance(token, value);
  };
  put(Machine, MACHINE, services.machine);
  put(Kernel, KERNEL, services.kernel);
  put(Kho, KHO, services.kho);
  put(Timeline, TIMELINE, services.timeline);
  put(services.luoClass, LUO, services.luo as never);
  container.registerInstance(KERNEL_BUILD, services.build);
  const instances = new Map<HandlerUnit, UnitInstance>();
  for (const unit of units) {
    const rawToken = Symbol(`liveupdate:raw:${unit.name}`);
    container.register(rawToken, { useClass: unit.cls as never }, { lifecycle: Lifecycle.Singleton });
    let built: UnitInstance | undefined;
    const factory = (): object => {
      if (built === undefined) {
        const raw = container.resolve(rawToken) as object;
        built = { raw, proxy: kernelBound(raw, services.kernel, unit.name) };
        instances.set(unit, built);
      }
      return built.proxy;
    };
    container.register(unit.cls as InjectionToken<object>, { useFactory: factory });
    for (const ancestor of unit.standsFor)
      container.register(ancestor as InjectionToken<object>, { useFactory: factory });
    for (const token of unit.meta.provides)
      container.register(token as InjectionToken<object>, { useFactory: factory });
  }
  for (const unit of units) {
    try {
      container.resolve(unit.cls as InjectionToken<object>);
    } catch (error) {
      if (error instanceof LiveUpdateError) throw error;
      throw new DriverInjectionError(
        `cannot construct ${unit.name} (${unit.cls.name}): ${error instanceof Error ? error.message : String(error)}`,
        { driver: unit.name },
        { cause: error },
      );
    }
  }
  return { container, instances };
}
