import "reflect-metadata";
import type { KernelBuild } from "../kernel/build.js";
import {
  type Catalog,
  type KernelBuildCatalog as CatalogBuild,
  type DriverCatalogEntryInput,
  defineCatalog,
} from "../schema/catalog/catalog.js";
import { parseCompatibleString } from "../schema/versions/compatible.js";
import {
  DriverCompatibleConflictError,
  DriverDeclarationError,
  DriverDependencyCycleError,
  DriverInjectionError,
  DriverMissingDependencyError,
} from "./handlers/errors.js";
import { hasHook } from "./handlers/hook-guards.js";
import { getDriverMetadata, getFlbMetadata, getHandlerMetadata } from "./handlers/metadata.js";
import type {
  DriverClass,
  DriverMetadata,
  FlbClass,
  FlbMetadata,
  HandlerMetadata,
} from "./handlers/types.js";
import { LUO_SCHEMA } from "./handover-schema.js";

/** A driver or FLB of a kernel build, placed in the build's dependency graph. */
export interface HandlerUnit {
  /** Driver or FLB. */
  readonly kind: "driver" | "flb";
  /** The class. */
  readonly cls: DriverClass | FlbClass;
  /** Its declaration. */
  readonly meta: DriverMetadata | FlbMetadata;
  /** Its name (compatible strings are `<name>-v<N>`). */
  readonly name: string;
  /**
   * Position in dependency order: providers have lower ranks than their consumers. Forward order
   * (prepare, serialize, restore) ascends; reverse order (freeze, cancel, finish) descends.
   */
  readonly rank: number;
  /** Direct dependencies (providers). */
  readonly dependencies: readonly HandlerUnit[];
  /** FLBs every object of this driver needs (empty for FLBs). */
  readonly flbs: readonly HandlerUnit[];
  /**
   * Driver classes this unit stands in for: the decorated ancestors of its class that declare the
   * same driver name and are not in the build themselves — the base class of a testkit variant
   * (`withNative`, `withCatalog`, `withRestorePolicy`) or of any subclass that keeps the name.
   * Consumers that inject the base class, and `Luo.driver(Base)`, get this unit.
   */
  readonly standsFor: readonly (DriverClass | FlbClass)[];
}

const INJECTION_TOKENS = "injectionTokens";

function className(cls: unknown): string {
  return (typeof cls === "function" && cls.name) || String(cls);
}

/**
 * The drivers and FLBs of one kernel build, validated and ordered: every class is a driver, every
 * dependency is in the build, no cycle, no compatible string claimed twice, required hooks present.
 * Built once per build (cached).
 */
export class DriverRegistry {
  private static readonly cache = new WeakMap<KernelBuild, DriverRegistry>();
  /** Units in dependency order (providers first). */
  readonly units: readonly HandlerUnit[];
  private readonly byClass = new Map<unknown, HandlerUnit>();
  private readonly byName = new Map<string, HandlerUnit>();
  private catalogCache: CatalogBuild | undefined;
  /** The kernel build. */
  readonly build: KernelBuild;

  private constructor(build: KernelBuild) {
    this.build = build;
    const declared = new Map<unknown, HandlerMetadata>();
    const pending: (DriverClass | FlbClass)[] = [];
    const add = (cls: unknown, via: string): void => {
      if (declared.has(cls)) return;
      const meta = getHandlerMetadata(cls);
      if (meta === undefined) {
        throw new DriverDeclarationError(
          `${className(cls)} (${via}) is not decorated with @LiveUpdateDriver or @LiveUpdateFlb`,
          { driver: className(cls), build: build.version },
        );
      }
      declared.set(cls, meta);
      pending.push(cls as DriverClass);
    };
    for (const cls of build.drivers) {
      if (getDriverMetadata(cls) === undefined) {
        throw new DriverDeclarationError(
          `kernel build ${build.version}: ${className(cls)} is not decorated with @LiveUpdateDriver`,
          { driver: className(cls), build: build.version },
        );
      }
      add(cls, `kernel build ${build.version}`);
    }
    // FLBs are part of the build through the drivers that use them.
    for (let i = 0; i < pending.length; i++) {
      const meta = declared.get(pending[i])!;
      if (meta.kind === "driver") {
        for (const flb of (meta as DriverMetadata).flbs()) {
          if (getFlbMetadata(flb) === undefined) {
            throw new DriverDeclarationError(
              `${meta.name}: flbs lists ${className(flb)}, which is not a @LiveUpdateFlb class`,
              {
                driver: meta.name,
                flb: className(flb),
              },
            );
          }
          add(flb, `FLB of ${meta.name}`);
        }
      }
    }
    // Names / compatible strings.
    const names = new Map<string, HandlerMetadata>();
    for (const meta of declared.values()) {
      const other = names.get(meta.name);
      if (other !== undefined) {
        const mine = new Set([...meta.reads, ...meta.writes]);
        const shared = [...other.reads, ...other.writes].find((v) => mine.has(v));
        throw new DriverCompatibleConflictError(
          shared === undefined ? meta.name : `${meta.name}-v${shared}`,
          [className(other.target), className(meta.target)],
        );
      }
      names.set(meta.name, meta);
      this.checkHooks(meta);
    }
    // A subclass that keeps its decorated ancestor's name stands in for the ancestor.
    const standIns = new Map<unknown, unknown>();
    const standsFor = new Map<unknown, unknown[]>();
    for (const [cls, meta] of declared) {
      const ancestors: unknown[] = [];
      for (
        let up = Object.getPrototypeOf(cls) as unknown;
        typeof up === "function";
        up = Object.getPrototypeOf(up)
      ) {
        if (getHandlerMetadata(up)?.name === meta.name && !declared.has(up) && !standIns.has(up)) {
          standIns.set(up, cls);
          ancestors.push(up);
        }
      }
      standsFor.set(cls, ancestors);
    }
    // Dependencies.
    const providers = new Map<unknown, unknown>();
    for (const [cls, meta] of declared) for (const token of meta.provides) providers.set(token, cls);
    const edges = new Map<unknown, unknown[]>();
    for (const [cls, meta] of declared)
      edges.set(cls, this.dependenciesOf(cls, meta, declared, providers, standIns));
    // Topological order with cycle detection (build order breaks ties).
    const order: unknown[] = [];
    const state = new Map<unknown, "visiting" | "done">();
    const stack: unknown[] = [];
    const visit = (cls: unknown): void => {
      const s = state.get(cls);
      if (s === "done") return;
      if (s === "visiting") {
        const cycle = stack.slice(stack.indexOf(cls)).concat([cls]);
        throw new DriverDependencyCycleError(cycle.map((c) => declared.get(c)!.name));
      }
      state.set(cls, "visiting");
      stack.push(cls);
      for (const dep of edges.get(cls)!) visit(dep);
      stack.pop();
      state.set(cls, "done");
      order.push(cls);
    };
    for (const cls of declared.keys()) visit(cls);
    const units: HandlerUnit[] = [];
    for (const cls of order) {
      const meta = declared.get(cls)!;
      const unit: HandlerUnit = Object.freeze({
        kind: meta.kind,
        cls: cls as DriverClass,
        meta: meta as DriverMetadata | FlbMetadata,
        name: meta.name,
        rank: units.length,
        dependencies: Object.freeze(edges.get(cls)!.map((d) => this.byClass.get(d)!)),
        flbs: Object.freeze(
          meta.kind === "driver" ? (meta as DriverMetadata).flbs().map((f) => this.byClass.get(f)!) : [],
        ),
        standsFor: Object.freeze(standsFor.get(cls)! as (DriverClass | FlbClass)[]),
      });
      units.push(unit);
      this.byClass.set(cls, unit);
      for (const ancestor of unit.standsFor) this.byClass.set(ancestor, unit);
      this.byName.set(unit.name, unit);
    }
    this.units = Object.freeze(units);
  }

  /**
   * The validated registry of `build`.
   *
   * @throws `DriverDeclarationError`, {@link DriverCompatibleConflictError},
   *   {@link DriverMissingDependencyError}, {@link DriverDependencyCycleError},
   *   {@link DriverInjectionError}.
   */
  static of(build: KernelBuild): DriverRegistry {
    let registry = DriverRegistry.cache.get(build);
    if (registry === undefined) {
      registry = new DriverRegistry(build);
      DriverRegistry.cache.set(build, registry);
    }
    return registry;
  }

  /** The unit of a driver or FLB class, if it is in the build. */
  unitOf(cls: unknown): HandlerUnit | undefined {
    return this.byClass.get(cls);
  }

  /** The unit with that name. */
  named(name: string): HandlerUnit | undefined {
    return this.byName.get(name);
  }

  /** The handler of a compatible string: the unit of that name whose `reads` include the version. */
  handlerFor(name: string, version: number): HandlerUnit | undefined {
    const unit = this.byName.get(name);
    return unit?.meta.reads.includes(version) ? unit : undefined;
  }

  /**
   * The handler registered for a compatible string (`"counter-v2"`), as upstream LUO looks handlers
   * up: the driver or FLB of that name whose `reads` include the version.
   */
  handlerForCompatible(compatible: string): HandlerUnit | undefined {
    const parsed = parseCompatibleString(compatible);
    return parsed === undefined ? undefined : this.handlerFor(parsed.driver, parsed.version);
  }

  /** Every compatible string the build registers a handler for (what it can restore), sorted. */
  compatibles(): string[] {
    return this.units.flatMap((u) => u.meta.reads.map((v) => `${u.name}-v${v}`)).sort();
  }

  /** Driver units (FLBs excluded), in dependency order. */
  get drivers(): readonly HandlerUnit[] {
    return this.units.filter((u) => u.kind === "driver");
  }

  /**
   * The build's catalog for negotiation: one entry per driver and FLB, plus the orchestrator's own
   * `luo` entry.
   */
  catalog(): CatalogBuild {
    if (this.catalogCache === undefined) {
      const entries: DriverCatalogEntryInput[] = this.units.map((u) => ({
        driver: u.name,
        native: u.meta.native,
        writes: u.meta.writes,
        reads: u.meta.reads,
        migrators: u.meta.schema.migrators.map((m) => ({ from: m.lower, to: m.upper, kind: m.kind })),
      }));
      entries.push({
        driver: LUO_SCHEMA.name,
        native: LUO_SCHEMA.latest,
        writes: LUO_SCHEMA.versions.map((v) => v.version),
        reads: LUO_SCHEMA.versions.map((v) => v.version),
        migrators: LUO_SCHEMA.migrators.map((m) => ({ from: m.lower, to: m.upper, kind: m.kind })),
      });
      const catalog: Catalog = defineCatalog(entries);
      this.catalogCache = Object.freeze({ version: this.build.version, catalog });
    }
    return this.catalogCache;
  }

  private checkHooks(meta: HandlerMetadata): void {
    const proto = meta.target.prototype as object;
    const probe = Object.create(proto) as object;
    for (const hook of ["serialize", "restore"] as const) {
      if (!hasHook(probe, hook)) {
        throw new DriverDeclarationError(
          `${meta.name} (${className(meta.target)}) has no ${hook} hook: mark a method with @${hook === "serialize" ? "Serialize" : "Restore"}() or implement on${hook[0]!.toUpperCase()}${hook.slice(1)}`,
          { driver: meta.name, hook },
        );
      }
    }
  }

  private dependenciesOf(
    cls: unknown,
    meta: HandlerMetadata,
    declared: ReadonlyMap<unknown, HandlerMetadata>,
    providers: ReadonlyMap<unknown, unknown>,
    standIns: ReadonlyMap<unknown, unknown>,
  ): unknown[] {
    const deps: unknown[] = [];
    const push = (dep: unknown): void => {
      if (dep !== cls && !deps.includes(dep)) deps.push(dep);
    };
    const requireInBuild = (dep: unknown, what: string): void => {
      const inBuild = declared.has(dep) ? dep : standIns.get(dep);
      if (inBuild === undefined) throw new DriverMissingDependencyError(meta.name, what, this.build.version);
      push(inBuild);
    };
    const ctor = cls as DriverClass;
    const paramtypes = Reflect.getMetadata("design:paramtypes", ctor) as unknown[] | undefined;
    const tokens = (Reflect.getOwnMetadata(INJECTION_TOKENS, ctor) ?? {}) as Record<number, unknown>;
    const count = Math.max(
      paramtypes?.length ?? 0,
      ctor.length,
      ...Object.keys(tokens).map((k) => Number(k) + 1),
    );
    for (let i = 0; i < count; i++) {
      let token: unknown = tokens[i] ?? paramtypes?.[i];
      if (typeof token === "object" && token !== null && "token" in token)
        token = (token as { token: unknown }).token;
      if (token === undefined || token === Object) {
        throw new DriverInjectionError(
          `${meta.name} (${className(cls)}) constructor parameter #${i} cannot be injected: ${
            token === undefined
              ? "no type metadata (is emitDecoratorMetadata on, and is the class imported as a value, not `import type`?)"
              : "its type is an interface or a type-only import; use @inject(TOKEN)"
          }`,
          { driver: meta.name, parameter: i },
        );
      }
      // Other tokens (kernel services, user services) are the container's business.
      if (getHandlerMetadata(token) !== undefined) requireInBuild(token, className(token));
      else if (providers.has(token)) push(providers.get(token));
    }
    for (const dep of meta.dependsOn()) {
      if (getHandlerMetadata(dep) === undefined) {
        throw new DriverDeclarationError(
          `${meta.name}: dependsOn lists ${className(dep)}, which is not a driver or FLB`,
          {
            driver: meta.name,
          },
        );
      }
      requireInBuild(dep, className(dep));
    }
    if (meta.kind === "driver")
      for (const flb of (meta as DriverMetadata).flbs()) requireInBuild(flb, className(flb));
    return deps;
  }
}
