import { LiveUpdateError } from "../../common/errors.js";

/**
 * Base of the driver SDK's declaration and boot errors: a driver class or a kernel build's set of
 * drivers is wrong. `errno` is what upstream returns for the same failure, where it has one.
 */
export abstract class DriverError extends LiveUpdateError {
  /** Upstream errno name, e.g. `"EEXIST"`. */
  abstract readonly errno: string;
}

/**
 * A driver or FLB declaration is invalid: bad options, a hook declared twice, a required hook
 * missing, a `@PhaseGuard` that allows blackout, a class without `@LiveUpdateDriver` in a build, …
 */
export class DriverDeclarationError extends DriverError {
  /** @inheritDoc */
  readonly code = "DRIVER_BAD_DECLARATION";
  /** @inheritDoc */
  readonly errno = "EINVAL";
}

/** Two drivers (or FLBs) of one build claim the same compatible string (or the same name). */
export class DriverCompatibleConflictError extends DriverError {
  /** @inheritDoc */
  readonly code = "DRIVER_COMPATIBLE_CONFLICT";
  /** @inheritDoc */
  readonly errno = "EEXIST";
  /**
   * @param compatible - the contested compatible string (or name).
   * @param drivers - the class names of both claimants.
   */
  constructor(compatible: string, drivers: readonly string[]) {
    super(`compatible string "${compatible}" is claimed by ${drivers.join(" and ")}`, {
      compatible,
      drivers,
    });
  }
}

/** A driver depends on a driver or FLB that is not part of the kernel build. */
export class DriverMissingDependencyError extends DriverError {
  /** @inheritDoc */
  readonly code = "DRIVER_MISSING_DEPENDENCY";
  /** @inheritDoc */
  readonly errno = "ENOENT";
  /**
   * @param driver - the dependent driver.
   * @param dependency - the missing dependency (class or token name).
   * @param build - the kernel build version.
   */
  constructor(driver: string, dependency: string, build: string) {
    super(`driver ${driver} depends on ${dependency}, which kernel build ${build} does not include`, {
      driver,
      dependency,
      build,
    });
  }
}

/** The dependency graph between a build's drivers has a cycle; hooks could not be ordered. */
export class DriverDependencyCycleError extends DriverError {
  /** @inheritDoc */
  readonly code = "DRIVER_DEPENDENCY_CYCLE";
  /** @inheritDoc */
  readonly errno = "ELOOP";
  /** @param cycle - the drivers on the cycle, first repeated at the end. */
  constructor(cycle: readonly string[]) {
    super(`driver dependency cycle: ${cycle.join(" -> ")}`, { cycle, driver: cycle[0] });
  }
}

/**
 * A constructor parameter cannot be injected: its type is an interface or a type-only import
 * (metadata says `Object`) and no `@inject(TOKEN)` names it, or the container failed to build it.
 */
export class DriverInjectionError extends DriverError {
  /** @inheritDoc */
  readonly code = "DRIVER_INJECTION_FAILED";
  /** @inheritDoc */
  readonly errno = "EINVAL";
}

/** A hook returned a promise: hooks are synchronous (they run inside the kernel's reboot path). */
export class DriverHookAsyncError extends DriverError {
  /** @inheritDoc */
  readonly code = "DRIVER_HOOK_ASYNC";
  /** @inheritDoc */
  readonly errno = "EINVAL";
  /**
   * @param driver - driver or FLB name.
   * @param hook - the hook.
   */
  constructor(driver: string, hook: string) {
    super(`${driver}.${hook} returned a promise; live update hooks must be synchronous`, { driver, hook });
  }
}
