import { compatibleString } from "../versions/compatible.js";
import type { MigrationStep } from "../versions/plan.js";
import { type DriverCatalogEntry, type KernelBuildCatalog, migrationPath } from "./catalog.js";
import {
  NegotiationDriverMissingError,
  type NegotiationError,
  type NegotiationErrorContext,
  type NegotiationFailureCode,
  NegotiationLossyRefusedError,
  NegotiationNoCommonVersionError,
} from "./errors.js";

/** The update policy as far as negotiation is concerned. */
export interface NegotiationPolicy {
  /**
   * Drivers for which a lossy down-migration is acceptable (their state may lose information the
   * target cannot express). `true` allows it for every driver; default: allowed for none.
   */
  readonly allowLossy?: boolean | readonly string[];
}

/** Options of {@link negotiate} and {@link planNegotiation}. */
export interface NegotiationOptions {
  /**
   * The running build's policy: judges lossy down steps on the write path (the running build
   * migrates before serializing). By default lossy migration is refused for every driver.
   */
  readonly policy?: NegotiationPolicy;
  /**
   * The target build's policy: judges lossy down steps on the read path, because the target
   * migrates after kexec and must agree to discard. Default: {@link NegotiationOptions.policy}.
   */
  readonly targetPolicy?: NegotiationPolicy;
  /**
   * The drivers that actually hand state over (those with preserved objects). Default: every
   * driver in the running build's catalog. A listed driver unknown to either build fails with
   * `NEGOTIATION_DRIVER_MISSING`.
   */
  readonly drivers?: readonly string[];
}

/** A common version that negotiation passed over because its migrator path is lossy. */
export interface RefusedLossyVersion {
  /** The common version. */
  readonly version: number;
  /** The lossy down steps on its path (running and target side). */
  readonly lossySteps: readonly MigrationStep[];
}

/** A driver for which a version both builds agree on was found. */
export interface DriverNegotiationOk {
  /** The driver (versioned-schema name). */
  readonly driver: string;
  /** Discriminant. */
  readonly status: "ok";
  /** The version written to the handover: the highest the running build writes and the target reads. */
  readonly version: number;
  /** Compatible string of {@link DriverNegotiationOk.version}, `<driver>-v<N>`. */
  readonly compatible: string;
  /** Native version of the running build. */
  readonly runningNative: number;
  /** Native version of the target build. */
  readonly targetNative: number;
  /** Migrators the running build applies before serializing (its native → `version`). */
  readonly writePath: readonly MigrationStep[];
  /** Migrators the target build applies after decoding (`version` → its native). */
  readonly readPath: readonly MigrationStep[];
  /** True when a lossy down-migrator is on the path (only possible when the policy allows it). */
  readonly lossy: boolean;
  /**
   * True when a lossy down-migrator is on the write path (allowed by the running build's policy):
   * the running build passes `allowLossy` when migrating for serialization.
   */
  readonly writeLossy: boolean;
  /**
   * True when a lossy down-migrator is on the read path (allowed by the target build's policy):
   * the target passes `allowLossy` when migrating the decoded state to its native version.
   */
  readonly readLossy: boolean;
  /**
   * True when an injective (or allowed lossy) down-migrator is on the path: values the older
   * version cannot express may be refused, with a typed error naming the field, when the state is
   * migrated for serialization.
   */
  readonly mayRefuse: boolean;
  /** Higher common versions passed over because their path was lossy and the policy refused it. */
  readonly skippedLossy: readonly number[];
}

/** A driver whose state cannot be handed from the running build to the target build. */
export interface DriverNegotiationFailed {
  /** The driver (versioned-schema name). */
  readonly driver: string;
  /** Discriminant. */
  readonly status: "impossible";
  /** Why; also the `code` of the error {@link negotiate} throws for it. */
  readonly code: NegotiationFailureCode;
  /** One-line human-readable reason. */
  readonly reason: string;
  /** Versions the running build writes (empty when it lacks the driver). */
  readonly writable: readonly number[];
  /** Versions the target build reads (empty when it lacks the driver). */
  readonly readable: readonly number[];
  /** For `NEGOTIATION_DRIVER_MISSING`: which build lacks the driver. */
  readonly missingIn?: "running" | "target";
  /** For `NEGOTIATION_LOSSY_REFUSED`: the common versions and the lossy steps that ruled each out. */
  readonly refusedLossy?: readonly RefusedLossyVersion[];
}

/**
 * A driver the running build does not have, so nothing of it is handed over. In a compatibility
 * matrix this marks a driver that is new in the target (`inTarget: true`) or in neither build.
 */
export interface DriverNegotiationAbsent {
  /** The driver (versioned-schema name). */
  readonly driver: string;
  /** Discriminant. */
  readonly status: "absent";
  /** Whether the target build has the driver (it then starts with fresh state). */
  readonly inTarget: boolean;
}

/** The negotiation outcome of one driver. */
export type DriverNegotiation = DriverNegotiationOk | DriverNegotiationFailed | DriverNegotiationAbsent;

/** The outcome of negotiating every driver between two builds, without throwing. */
export interface NegotiationPlan {
  /** Version of the running build. */
  readonly running: string;
  /** Version of the target build. */
  readonly target: string;
  /** One result per negotiated driver, sorted by driver name. */
  readonly drivers: readonly DriverNegotiation[];
  /** True when no driver failed. */
  readonly ok: boolean;
}

/** A successful negotiation: the agreed version of every driver that hands state over. */
export interface NegotiationResult {
  /** Version of the running build. */
  readonly running: string;
  /** Version of the target build. */
  readonly target: string;
  /** The agreed version and migrator paths per driver, sorted by driver name. */
  readonly drivers: readonly DriverNegotiationOk[];
  /** Drivers of the target build the running build lacks; they start fresh after kexec. */
  readonly newInTarget: readonly string[];
}

function lossyAllowed(policy: NegotiationPolicy | undefined, driver: string): boolean {
  const allow = policy?.allowLossy;
  if (allow === true) return true;
  if (allow === undefined || allow === false) return false;
  return allow.includes(driver);
}

function fmtSet(versions: readonly number[]): string {
  return `{${versions.map((v) => `v${v}`).join(", ")}}`;
}

/**
 * Negotiates one driver: the highest version `running` writes and `target` reads whose migrator
 * path (running native → version → target native) has no lossy down step, unless the policy allows
 * lossy for this driver — `policy` (the running build's) for the write path, `targetPolicy`
 * (default: `policy`) for the read path. Never throws for data it can judge; see {@link negotiate}
 * for the throwing form.
 */
export function negotiateDriver(
  running: KernelBuildCatalog,
  target: KernelBuildCatalog,
  driver: string,
  policy?: NegotiationPolicy,
  targetPolicy: NegotiationPolicy | undefined = policy,
): DriverNegotiation {
  const w: DriverCatalogEntry | undefined = Object.hasOwn(running.catalog, driver)
    ? running.catalog[driver]
    : undefined;
  const r: DriverCatalogEntry | undefined = Object.hasOwn(target.catalog, driver)
    ? target.catalog[driver]
    : undefined;
  if (w === undefined) {
    return { driver, status: "absent", inTarget: r !== undefined };
  }
  if (r === undefined) {
    return {
      driver,
      status: "impossible",
      code: "NEGOTIATION_DRIVER_MISSING",
      reason: `target build ${target.version} has no driver ${driver} (running build writes ${fmtSet(w.writes)})`,
      writable: w.writes,
      readable: [],
      missingIn: "target",
    };
  }
  const common = w.writes.filter((v) => r.reads.includes(v)).sort((a, b) => b - a);
  if (common.length === 0) {
    return {
      driver,
      status: "impossible",
      code: "NEGOTIATION_NO_COMMON_VERSION",
      reason: `${running.version} writes ${driver} ${fmtSet(w.writes)}, ${target.version} reads ${fmtSet(r.reads)}: no common version`,
      writable: w.writes,
      readable: r.reads,
    };
  }
  const writeAllowed = lossyAllowed(policy, driver);
  const readAllowed = lossyAllowed(targetPolicy, driver);
  const refused: { version: number; lossySteps: MigrationStep[] }[] = [];
  const isLossyDown = (s: MigrationStep): boolean => s.direction === "down" && s.kind === "lossy";
  for (const version of common) {
    const writePath = migrationPath(w, w.native, version);
    const readPath = migrationPath(r, version, r.native);
    const downs = [...writePath, ...readPath].filter((s) => s.direction === "down");
    const lossySteps = downs.filter((s) => s.kind === "lossy");
    const writeLossy = writePath.some(isLossyDown);
    const readLossy = readPath.some(isLossyDown);
    if ((writeLossy && !writeAllowed) || (readLossy && !readAllowed)) {
      refused.push({ version, lossySteps });
      continue;
    }
    return {
      driver,
      status: "ok",
      version,
      compatible: compatibleString(driver, version),
      runningNative: w.native,
      targetNative: r.native,
      writePath,
      readPath,
      lossy: lossySteps.length > 0,
      writeLossy,
      readLossy,
      mayRefuse: downs.some((s) => s.kind !== "iso"),
      skippedLossy: refused.map((x) => x.version),
    };
  }
  return {
    driver,
    status: "impossible",
    code: "NEGOTIATION_LOSSY_REFUSED",
    reason: `${driver}: every common version ${fmtSet(common.slice().reverse())} needs a lossy down-migrator and the policy of the build that would run it does not allow lossy for ${driver}`,
    writable: w.writes,
    readable: r.reads,
    refusedLossy: refused,
  };
}

/**
 * Negotiates every driver between the running build and the target build without throwing.
 * Drivers are those of `options.drivers`, or every driver of the running build; drivers only the
 * target has are listed as `absent` with `inTarget: true`.
 */
export function planNegotiation(
  running: KernelBuildCatalog,
  target: KernelBuildCatalog,
  options: NegotiationOptions = {},
): NegotiationPlan {
  const names = new Set(options.drivers ?? Object.keys(running.catalog));
  if (options.drivers === undefined) for (const name of Object.keys(target.catalog)) names.add(name);
  const drivers = [...names].sort().map((driver) => {
    const result = negotiateDriver(
      running,
      target,
      driver,
      options.policy,
      options.targetPolicy ?? options.policy,
    );
    if (result.status === "absent" && options.drivers !== undefined) {
      // The caller says this driver hands state over, but the running build does not know it.
      const failed: DriverNegotiationFailed = {
        driver,
        status: "impossible",
        code: "NEGOTIATION_DRIVER_MISSING",
        reason: `running build ${running.version} has no driver ${driver}`,
        writable: [],
        readable: Object.hasOwn(target.catalog, driver) ? target.catalog[driver]!.reads : [],
        missingIn: "running",
      };
      return failed;
    }
    return result;
  });
  return {
    running: running.version,
    target: target.version,
    drivers,
    ok: drivers.every((d) => d.status !== "impossible"),
  };
}

/** Creates the typed error for a failed driver negotiation. */
export function negotiationError(
  failure: DriverNegotiationFailed,
  running: string,
  target: string,
  extra: Readonly<Record<string, unknown>> = {},
): NegotiationError {
  const context: NegotiationErrorContext = {
    driver: failure.driver,
    runningBuild: running,
    targetBuild: target,
    writable: failure.writable,
    readable: failure.readable,
    ...(failure.missingIn !== undefined ? { missingIn: failure.missingIn } : {}),
    ...(failure.refusedLossy !== undefined ? { refusedLossy: failure.refusedLossy } : {}),
    ...extra,
  };
  const message = `cannot update ${running} -> ${target}: ${failure.reason}`;
  switch (failure.code) {
    case "NEGOTIATION_NO_COMMON_VERSION":
      return new NegotiationNoCommonVersionError(message, context);
    case "NEGOTIATION_LOSSY_REFUSED":
      return new NegotiationLossyRefusedError(message, context);
    case "NEGOTIATION_DRIVER_MISSING":
      return new NegotiationDriverMissingError(message, context);
  }
}

/**
 * Negotiates, for each driver, the version the running build writes for the target build — the
 * highest version the running build can write and the target can read, reached without a lossy
 * down-migrator unless the policy allows one. Run it once the target is kexec-loaded and before
 * anything is frozen.
 *
 * @throws NegotiationError (`NEGOTIATION_NO_COMMON_VERSION`, `NEGOTIATION_LOSSY_REFUSED` or
 *   `NEGOTIATION_DRIVER_MISSING`) for the first failing driver in name order; its context names the
 *   driver, both builds and both version sets, and `failures` lists every failing driver.
 */
export function negotiate(
  running: KernelBuildCatalog,
  target: KernelBuildCatalog,
  options: NegotiationOptions = {},
): NegotiationResult {
  const plan = planNegotiation(running, target, options);
  const failures = plan.drivers.filter((d): d is DriverNegotiationFailed => d.status === "impossible");
  const first = failures[0];
  if (first !== undefined) {
    throw negotiationError(first, running.version, target.version, {
      failures: failures.map((f) => ({ driver: f.driver, code: f.code, reason: f.reason })),
    });
  }
  return {
    running: running.version,
    target: target.version,
    drivers: plan.drivers.filter((d): d is DriverNegotiationOk => d.status === "ok"),
    newInTarget: plan.drivers.filter((d) => d.status === "absent" && d.inTarget).map((d) => d.driver),
  };
}
