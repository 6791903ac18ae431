import "reflect-metadata";
import { defineCatalogEntry } from "../../schema/catalog/catalog.js";
import { CatalogInvalidError } from "../../schema/catalog/errors.js";
import type { VersionedSchema } from "../../schema/versions/versioned.js";
import { LUO_COMPATIBLE_LENGTH } from "../handover-schema.js";
import { DriverDeclarationError } from "./errors.js";
import type { HookName } from "./hook-names.js";
import { DRIVER_METADATA, FLB_METADATA, HOOKS_METADATA, PHASE_GUARDS_METADATA } from "./metadata-keys.js";
import type {
  ClassList,
  DriverClass,
  DriverMetadata,
  FlbClass,
  FlbMetadata,
  HandlerMetadata,
  HandlerOptions,
  LiveUpdateDriverOptions,
} from "./types.js";

/** How a `@PhaseGuard` operation behaves, as stored in class metadata. */
export interface PhaseGuardDeclaration {
  /** The method's property key. */
  readonly key: string | symbol;
  /** Operation name shown in errors and tables (the method name unless overridden). */
  readonly operation: string;
  /** During brownout (PREPARED): mark the object dirty and allow, or refuse with EBUSY. */
  readonly brownout: "dirty" | "refuse";
  /** In UPDATED (restored, session not finished yet): allow or refuse with EBUSY. */
  readonly updated: "allow" | "refuse";
  /**
   * Drivers: picks the object the operation changes from the call's arguments (default: the first
   * argument). One of the driver's FLB instances means that FLB only; `undefined` means the
   * driver-wide state: every preserved object of the driver and the driver's FLBs count as changed.
   * Not consulted for an FLB's own operations: they change the FLB itself.
   */
  readonly target: (args: readonly unknown[]) => unknown;
  /** Whether the declaration gave `target` (refused on FLBs, whose operations change the FLB). */
  readonly explicitTarget: boolean;
  /** One-line description for the generated phase table. */
  readonly description: string | undefined;
}

function isSchema(value: unknown): value is VersionedSchema {
  if (typeof value !== "object" || value === null) return false;
  const s = value as Partial<VersionedSchema>;
  return (
    typeof s.name === "string" &&
    typeof s.latest === "number" &&
    Array.isArray(s.versions) &&
    typeof s.version === "function" &&
    typeof s.migrate === "function"
  );
}

function thunkOf<C>(list: ClassList<C> | undefined, what: string, owner: string): () => readonly C[] {
  if (list === undefined) return () => [];
  if (typeof list === "function") {
    return () => {
      const value = (list as () => readonly C[])();
      if (!Array.isArray(value)) {
        throw new DriverDeclarationError(`${owner}: ${what} thunk must return an array`, { driver: owner });
      }
      return value;
    };
  }
  if (!Array.isArray(list))
    throw new DriverDeclarationError(`${owner}: ${what} must be an array`, { driver: owner });
  const frozen = Object.freeze([...list]);
  return () => frozen;
}

function versionList(
  owner: string,
  field: string,
  given: readonly number[] | undefined,
  latest: number,
): readonly number[] {
  const list = given ?? Array.from({ length: latest }, (_, i) => i + 1);
  if (!Array.isArray(list) || list.length === 0) {
    throw new DriverDeclarationError(`${owner}: ${field} must be a non-empty array of versions`, {
      driver: owner,
      field,
    });
  }
  for (const v of list) {
    if (!Number.isInteger(v) || v < 1 || v > latest) {
      throw new DriverDeclarationError(
        `${owner}: ${field} lists v${String(v)}, the schema has v1..v${latest}`,
        {
          driver: owner,
          field,
          version: v,
        },
      );
    }
  }
  return Object.freeze([...new Set(list)].sort((a, b) => a - b));
}

/**
 * An FLB's guarded operation changes the FLB itself (its hooks take no object), so a `target`
 * picker could only mislead: refused. (Method decorators run before the class decorator, so the
 * guards are known here.)
 */
function refuseFlbTargets(owner: string, name: string, target: FlbClass | DriverClass): void {
  const picked = getPhaseGuards(target).find((g) => g.explicitTarget);
  if (picked !== undefined) {
    throw new DriverDeclarationError(
      `${owner}: @PhaseGuard on FLB operation ${picked.operation} gives a target; an FLB's operations always change the FLB itself — drop the target`,
      { driver: name, operation: picked.operation },
    );
  }
}

/**
 * Validates and normalizes the options of `@LiveUpdateDriver` / `@LiveUpdateFlb`.
 *
 * @param kind - `driver` or `flb`.
 * @param target - the decorated class.
 * @param options - the decorator's options.
 * @throws {@link DriverDeclarationError} naming the class and the bad option.
 */
export function normalizeHandlerOptions(
  kind: "driver" | "flb",
  target: DriverClass | FlbClass,
  options: LiveUpdateDriverOptions | HandlerOptions,
): DriverMetadata | FlbMetadata {
  const owner = target.name || "<anonymous class>";
  if (typeof options !== "object" || options === null) {
    throw new DriverDeclarationError(`${owner}: decorator options are required`, { driver: owner });
  }
  if (!isSchema(options.schema)) {
    throw new DriverDeclarationError(
      `${owner}: options.schema must be a versioned schema (versionedSchema(...))`,
      {
        driver: owner,
        field: "schema",
      },
    );
  }
  const schema = options.schema as VersionedSchema;
  const name = schema.name;
  if (name === "luo") {
    throw new DriverDeclarationError(
      `${owner}: the name "luo" is reserved for the orchestrator's own handover`,
      {
        driver: owner,
      },
    );
  }
  // Every compatible string `<name>-v<N>` must fit the LUO handover's `char[48]` with its NUL.
  const longest = `${name}-v${schema.latest}`;
  const longestBytes = new TextEncoder().encode(longest).length;
  if (longestBytes >= LUO_COMPATIBLE_LENGTH) {
    throw new DriverDeclarationError(
      `${owner}: compatible string "${longest}" is ${longestBytes} bytes; the LUO handover holds at most ${LUO_COMPATIBLE_LENGTH - 1} (char[${LUO_COMPATIBLE_LENGTH}] with NUL)`,
      { driver: name, field: "schema", compatible: longest },
    );
  }
  const native = options.native ?? schema.latest;
  if (!Number.isInteger(native) || native < 1 || native > schema.latest) {
    throw new DriverDeclarationError(
      `${owner}: native version v${String(native)} is not in v1..v${schema.latest}`,
      {
        driver: name,
        field: "native",
      },
    );
  }
  const writes = versionList(name, "writes", options.writes, schema.latest);
  const reads = versionList(name, "reads", options.reads, schema.latest);
  try {
    defineCatalogEntry({
      driver: name,
      native,
      writes,
      reads,
      migrators: schema.migrators.map((m) => ({ from: m.lower, to: m.upper, kind: m.kind })),
    });
  } catch (error) {
    if (error instanceof CatalogInvalidError) {
      throw new DriverDeclarationError(
        `${owner}: ${error.message}`,
        { driver: name, ...error.context },
        { cause: error },
      );
    }
    throw error;
  }
  const restorePolicy = options.restorePolicy ?? "abort";
  if (restorePolicy !== "abort" && restorePolicy !== "reset") {
    throw new DriverDeclarationError(`${owner}: restorePolicy must be "abort" or "reset"`, { driver: name });
  }
  const serializeAt = options.serializeAt;
  if (serializeAt !== undefined && serializeAt !== "prepare" && serializeAt !== "freeze") {
    throw new DriverDeclarationError(`${owner}: serializeAt must be "prepare" or "freeze"`, { driver: name });
  }
  const provides = options.provides ?? [];
  if (!Array.isArray(provides)) {
    throw new DriverDeclarationError(`${owner}: provides must be an array of injection tokens`, {
      driver: name,
    });
  }
  const base = {
    target,
    name,
    schema,
    native,
    writes,
    reads,
    restorePolicy,
    serializeAt,
    allowLossy: options.allowLossy === true,
    dependsOn: thunkOf(options.dependsOn, "dependsOn", name),
    provides: Object.freeze([...provides]),
  };
  if (kind === "flb") {
    refuseFlbTargets(owner, name, target);
    return Object.freeze({ kind: "flb" as const, ...base });
  }
  const flbs = thunkOf((options as LiveUpdateDriverOptions).flbs, "flbs", name);
  return Object.freeze({ kind: "driver" as const, ...base, flbs });
}

/** The `@LiveUpdateDriver` declaration of `cls`, if it is a driver class. */
export function getDriverMetadata(cls: unknown): DriverMetadata | undefined {
  if (typeof cls !== "function") return undefined;
  return Reflect.getOwnMetadata(DRIVER_METADATA, cls) as DriverMetadata | undefined;
}

/** The `@LiveUpdateFlb` declaration of `cls`, if it is an FLB class. */
export function getFlbMetadata(cls: unknown): FlbMetadata | undefined {
  if (typeof cls !== "function") return undefined;
  return Reflect.getOwnMetadata(FLB_METADATA, cls) as FlbMetadata | undefined;
}

/** The driver or FLB declaration of `cls`, if any. */
export function getHandlerMetadata(cls: unknown): HandlerMetadata | undefined {
  return getDriverMetadata(cls) ?? getFlbMetadata(cls);
}

/** True when `cls` is decorated with `@LiveUpdateDriver`. */
export function isDriverClass(cls: unknown): cls is DriverClass {
  return getDriverMetadata(cls) !== undefined;
}

/** True when `cls` is decorated with `@LiveUpdateFlb`. */
export function isFlbClass(cls: unknown): cls is FlbClass {
  return getFlbMetadata(cls) !== undefined;
}

/**
 * Records that method `key` of `cls` implements `hook` (used by the hook decorators).
 *
 * @throws {@link DriverDeclarationError} when the class already marks another method for the hook.
 */
export function defineHookMethod(cls: object, hook: HookName, key: string | symbol): void {
  const own = (Reflect.getOwnMetadata(HOOKS_METADATA, cls) ?? {}) as Partial<
    Record<HookName, string | symbol>
  >;
  const previous = own[hook];
  if (previous !== undefined && previous !== key) {
    const owner = (cls as { name?: string }).name ?? "<class>";
    throw new DriverDeclarationError(
      `${owner}: hook ${hook} is declared on both ${String(previous)} and ${String(key)}`,
      { driver: owner, hook },
    );
  }
  Reflect.defineMetadata(HOOKS_METADATA, { ...own, [hook]: key }, cls);
}

/** Which methods of `cls` are marked by hook decorators (own and inherited; subclasses win). */
export function getHookMethods(cls: object): Readonly<Partial<Record<HookName, string | symbol>>> {
  const chain: object[] = [];
  for (let c: object | null = cls; c !== null && c !== Function.prototype; c = Object.getPrototypeOf(c))
    chain.push(c);
  const merged: Partial<Record<HookName, string | symbol>> = {};
  for (const c of chain.reverse()) Object.assign(merged, Reflect.getOwnMetadata(HOOKS_METADATA, c) ?? {});
  return Object.freeze(merged);
}

/** Adds a `@PhaseGuard` declaration to `cls` (used by the decorator). */
export function addPhaseGuard(cls: object, declaration: PhaseGuardDeclaration): void {
  const own = (Reflect.getOwnMetadata(PHASE_GUARDS_METADATA, cls) ?? []) as PhaseGuardDeclaration[];
  Reflect.defineMetadata(
    PHASE_GUARDS_METADATA,
    [...own.filter((d) => d.key !== declaration.key), declaration],
    cls,
  );
}

/** The `@PhaseGuard` operations of `cls` (own and inherited), in declaration order. */
export function getPhaseGuards(cls: object): readonly PhaseGuardDeclaration[] {
  const chain: object[] = [];
  for (let c: object | null = cls; c !== null && c !== Function.prototype; c = Object.getPrototypeOf(c))
    chain.push(c);
  const byKey = new Map<string | symbol, PhaseGuardDeclaration>();
  for (const c of chain.reverse()) {
    for (const d of (Reflect.getOwnMetadata(PHASE_GUARDS_METADATA, c) ?? []) as PhaseGuardDeclaration[]) {
      byKey.set(d.key, d);
    }
  }
  return Object.freeze([...byKey.values()]);
}
