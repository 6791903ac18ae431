import type { DependencyContainer } from "tsyringe";
import type { Prng } from "../common/prng.js";
import type { LiveUpdateKernel } from "../luo/boot.js";
import type { DriverClass } from "../luo/handlers/types.js";
import type { LuoOptions } from "../luo/orchestrator.js";
import type { generatorFor, StructGenerator } from "../schema/laws/generators.js";
import type { ConformanceCheckName } from "./report.js";
import type { COMPANION_TOKENS } from "./scenario.js";
import type { withNative } from "./variants.js";

/** What {@link ConformanceOptions.assertRestored} is told besides the two objects. */
export interface RestoredObjectContext<I, S> {
  /** The check asking. */
  readonly check: ConformanceCheckName;
  /** The original's snapshot, taken at the end of brownout (just before freeze), if `snapshot` is given. */
  readonly snapshot: S | undefined;
  /** The kernel the restored object lives in (the old one itself in cancel checks). */
  readonly kernel: LiveUpdateKernel;
  /** That kernel's instance of the driver (the reader's class: a variant or a peer in `version-pairs`). */
  readonly driver: I;
  /** The version the state crossed the kexec in (undefined when nothing crossed: cancel checks). */
  readonly writtenVersion: number | undefined;
}

/** Settings of the `corruption` check. */
export interface CorruptionOptions {
  /** Number of trials (default 48; each is one full update with one corruption). */
  readonly trials?: number;
  /** Run only these trial numbers (to replay a failure). */
  readonly only?: readonly number[];
  /**
   * The driver seals its serialized state (a checksum, a MAC) and rejects a state that does not
   * match: `true` for every version, or the versions that carry the seal. Then restoring a
   * corrupted state to a different value is a failure even when the bytes still decode.
   */
  readonly integrity?: boolean | readonly number[];
}

/**
 * What only the driver's author knows, and the knobs of {@link verifyDriverConformance}.
 *
 * @typeParam I - the driver's instance type.
 * @typeParam T - the preserved object type.
 * @typeParam S - the snapshot type.
 */
export interface ConformanceOptions<I, T, S = undefined> {
  /**
   * Creates one representative object in a booted kernel (do not preserve it: the checks do).
   * Use `driver` — the running build's instance of the driver, which may be a {@link withNative}
   * adapter or a peer class — rather than `lk.driver(YourClass)`. Draw variety from `rng`.
   */
  createObject(lk: LiveUpdateKernel, rng: Prng, driver: I): T;
  /**
   * Throws (any assertion error) when `restored` is not what `original` was when it was handed
   * over. Compare against `ctx.snapshot` for state that lives in memory of the old kernel.
   */
  assertRestored(original: T, restored: T, ctx: RestoredObjectContext<I, S>): void;
  /**
   * Captures what `assertRestored` compares, in the old kernel at the end of brownout (e.g. the
   * object's memory contents). Default: no snapshot.
   */
  snapshot?(object: T, lk: LiveUpdateKernel, driver: I): S;
  /**
   * Changes one preserved object during brownout through a dirty-tracked `@PhaseGuard`
   * operation; the `update` check then verifies the change was tracked and re-serialized at freeze.
   */
  brownout?(object: T, lk: LiveUpdateKernel, driver: I): void;
  /**
   * Objects of other drivers (from {@link ConformanceOptions.withDrivers}) that `object` needs
   * preserved in the same session — e.g. the iommufd context a vfio device is bound to. The suite
   * preserves them next to each object, under tokens from {@link COMPANION_TOKENS} up, and the
   * new kernel restores them as the object's dependencies; they are not checked themselves.
   */
  companions?(object: T, lk: LiveUpdateKernel, driver: I): readonly unknown[];
  /** Objects per scenario (default 2, at least 1). */
  readonly objects?: number;
  /** Generated values per law (default 100). */
  readonly numRuns?: number;
  /**
   * Your generators of meaningful state values, per struct ({@link generatorFor}), for the
   * `round-trip` and `migrator-laws` checks: e.g. one that recomputes the seal of a sealed version,
   * so that `down` accepts the values and the laws about it are exercised.
   */
  readonly generators?: readonly StructGenerator[];
  /**
   * Smallest share of generated values that must exercise a conditional migrator law (default
   * 0.2): below it `migrator-laws` fails as vacuous.
   */
  readonly minExercised?: number;
  /** Seed of everything random: laws, boots, `createObject`'s rng, corruptions (default 1). */
  readonly seed?: number;
  /** Checks to run (default: all of {@link CONFORMANCE_CHECKS}). */
  readonly checks?: readonly ConformanceCheckName[];
  /** Checks to skip. */
  readonly skip?: readonly ConformanceCheckName[];
  /** The `corruption` check's settings. */
  readonly corruption?: CorruptionOptions;
  /**
   * Other releases of the same driver (same schema name, other native version or catalog), e.g.
   * the class an older kernel build ships: `version-pairs` updates in both directions between the
   * driver and each peer. `createObject`, `snapshot` and `assertRestored` receive the peer's
   * instance as `driver` then: peers should offer the same API as the driver.
   */
  readonly peers?: readonly DriverClass[];
  /** Other drivers every kernel build needs (the driver's dependencies). */
  readonly withDrivers?: readonly DriverClass[];
  /** RAM of each scenario's machine (default `"512M"`). */
  readonly memory?: number | string;
  /** Parent DI container of every boot (test services). */
  readonly container?: DependencyContainer;
  /** Orchestrator settings of every boot. */
  readonly luo?: LuoOptions;
}
