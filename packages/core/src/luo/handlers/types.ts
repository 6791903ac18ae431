import type { InjectionToken } from "tsyringe";
import type { VersionedSchema } from "../../schema/versions/versioned.js";

/**
 * A concrete driver class (what a kernel build lists and the per-boot container constructs).
 *
 * @typeParam T - the instance type.
 */
export type DriverClass<T = unknown> = new (...args: never[]) => T;

/** A `@LiveUpdateFlb` class: File-Lifecycle-Bound state shared by many objects of one or more drivers. */
export type FlbClass<T = unknown> = new (...args: never[]) => T;

/**
 * What the new kernel does when a preserved object cannot be restored (no handler for its
 * compatible string, invalid handover data, a failing restore hook):
 * - `abort`: the update fails loudly (upstream panics) — the new kernel's boot throws;
 * - `reset`: the object is dropped, the memory it preserved is released, and the loss is reported
 *   (timeline event and {@link ResetReport}).
 */
export type RestorePolicy = "abort" | "reset";

/**
 * When an object's state is serialized:
 * - `prepare` (relaxed, the default): during brownout, while VMs run; objects changed afterwards
 *   through a dirty-tracking `@PhaseGuard` operation are re-serialized at freeze;
 * - `freeze` (strict): during blackout, after the object's freeze hook.
 */
export type SerializeAt = "prepare" | "freeze";

/** A report of one object (or FLB) dropped by the `reset` restore policy. */
export interface ResetReport {
  /** Driver or FLB name (or the compatible string when no handler exists). */
  readonly driver: string;
  /** Compatible string found in the handover. */
  readonly compatible: string;
  /** Session name (undefined for an FLB). */
  readonly session?: string;
  /** Object token (undefined for an FLB). */
  readonly token?: bigint;
  /** Why restoring failed (the error's `code`). */
  readonly code: string;
  /** Human-readable reason. */
  readonly reason: string;
  /** Bytes of preserved memory released back to the allocator. */
  readonly releasedBytes: number;
}

/** Dependencies given as a list or as a thunk (for classes declared later in the file). */
export type ClassList<C> = readonly C[] | (() => readonly C[]);

/** Options shared by `@LiveUpdateDriver` and `@LiveUpdateFlb`. */
export interface HandlerOptions {
  /**
   * The versioned schema of the preserved state (v1..vN with migrators). Its name is the handler's
   * name: compatible strings are `<name>-v<N>`.
   */
  readonly schema: VersionedSchema;
  /** The version live objects use in this build (default: the schema's latest). */
  readonly native?: number;
  /** Versions this build can write to a handover (default: every version of the schema). */
  readonly writes?: readonly number[];
  /** Versions this build can restore from (default: every version of the schema). */
  readonly reads?: readonly number[];
  /** Restore policy of this handler (default `abort`). */
  readonly restorePolicy?: RestorePolicy;
  /** When state is serialized (default: the orchestrator's setting, itself `prepare` by default). */
  readonly serializeAt?: SerializeAt;
  /** Allow a lossy down-migration for this handler during negotiation (default false). */
  readonly allowLossy?: boolean;
  /**
   * Drivers or FLBs this one depends on besides those it receives by constructor injection. The
   * dependency graph orders hooks: providers prepare and restore first, consumers freeze, cancel
   * and finish first.
   */
  readonly dependsOn?: ClassList<DriverClass | FlbClass>;
  /**
   * Extra injection tokens the instance is registered under in the per-boot container, for
   * consumers that depend on an interface (`@inject(TOKEN)`).
   */
  readonly provides?: readonly InjectionToken<unknown>[];
}

/** Options of `@LiveUpdateDriver`. */
export interface LiveUpdateDriverOptions extends HandlerOptions {
  /**
   * FLBs (File-Lifecycle-Bound shared state) every object of this driver needs: each is preserved
   * with the first such object and finished after the last.
   */
  readonly flbs?: ClassList<FlbClass>;
}

/** Options of `@LiveUpdateFlb`. */
export type LiveUpdateFlbOptions = HandlerOptions;

/** The normalized declaration stored on a driver or FLB class. */
export interface HandlerMetadata {
  /** `driver` for `@LiveUpdateDriver`, `flb` for `@LiveUpdateFlb`. */
  readonly kind: "driver" | "flb";
  /** The decorated class. */
  readonly target: DriverClass | FlbClass;
  /** Handler name (= schema name). */
  readonly name: string;
  /** The versioned state schema. */
  readonly schema: VersionedSchema;
  /** Native version. */
  readonly native: number;
  /** Writable versions, ascending. */
  readonly writes: readonly number[];
  /** Readable versions, ascending. */
  readonly reads: readonly number[];
  /** Restore policy. */
  readonly restorePolicy: RestorePolicy;
  /** Serialization point, when the handler overrides the orchestrator's. */
  readonly serializeAt: SerializeAt | undefined;
  /** Whether negotiation may pick a lossy path for this handler. */
  readonly allowLossy: boolean;
  /** Explicit dependencies (resolved lazily). */
  readonly dependsOn: () => readonly (DriverClass | FlbClass)[];
  /** Extra tokens. */
  readonly provides: readonly InjectionToken<unknown>[];
}

/** The normalized declaration of a `@LiveUpdateDriver` class. */
export interface DriverMetadata extends HandlerMetadata {
  /** Discriminant. */
  readonly kind: "driver";
  /** FLBs every object of the driver needs (resolved lazily). */
  readonly flbs: () => readonly FlbClass[];
}

/** The normalized declaration of a `@LiveUpdateFlb` class. */
export interface FlbMetadata extends HandlerMetadata {
  /** Discriminant. */
  readonly kind: "flb";
}
