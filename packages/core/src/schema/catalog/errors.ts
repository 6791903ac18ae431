import { SchemaError } from "../errors.js";

/**
 * Why a driver cannot be handed from one kernel build to another. Each value is also the stable
 * `code` of the error {@link negotiate} throws for it.
 *
 * - `NEGOTIATION_NO_COMMON_VERSION`: no version the running build writes is read by the target.
 * - `NEGOTIATION_LOSSY_REFUSED`: common versions exist, but every path to them contains a lossy
 *   down-migrator and the policy does not allow lossy migration for this driver.
 * - `NEGOTIATION_DRIVER_MISSING`: the target build has no catalog entry for the driver at all.
 */
export type NegotiationFailureCode =
  | "NEGOTIATION_NO_COMMON_VERSION"
  | "NEGOTIATION_LOSSY_REFUSED"
  | "NEGOTIATION_DRIVER_MISSING";

/** Facts every negotiation error carries in its `context`. */
export interface NegotiationErrorContext {
  /** The driver (versioned-schema name) that cannot be handed over. */
  readonly driver: string;
  /** Version string of the running (outgoing) kernel build. */
  readonly runningBuild: string;
  /** Version string of the target (incoming) kernel build. */
  readonly targetBuild: string;
  /** Versions of the driver the running build can write (ascending). */
  readonly writable: readonly number[];
  /** Versions of the driver the target build can read (ascending; empty when the driver is missing). */
  readonly readable: readonly number[];
  /** Further facts, e.g. the refused lossy steps, or the other drivers that failed. */
  readonly [key: string]: unknown;
}

/**
 * Base class of the errors negotiation raises before anything is frozen. `context` names the
 * driver, both builds and both version sets (see {@link NegotiationErrorContext}).
 */
export abstract class NegotiationError extends SchemaError {
  abstract override readonly code: NegotiationFailureCode;
  declare readonly context: Readonly<NegotiationErrorContext>;
}

/** No version the running build can write is readable by the target build. */
export class NegotiationNoCommonVersionError extends NegotiationError {
  /** Always `"NEGOTIATION_NO_COMMON_VERSION"`. */
  readonly code = "NEGOTIATION_NO_COMMON_VERSION" as const;
}

/** Only paths through a lossy down-migrator exist and the policy does not allow lossy for the driver. */
export class NegotiationLossyRefusedError extends NegotiationError {
  /** Always `"NEGOTIATION_LOSSY_REFUSED"`. */
  readonly code = "NEGOTIATION_LOSSY_REFUSED" as const;
}

/** The running build preserves a driver of which the target build has no catalog entry. */
export class NegotiationDriverMissingError extends NegotiationError {
  /** Always `"NEGOTIATION_DRIVER_MISSING"`. */
  readonly code = "NEGOTIATION_DRIVER_MISSING" as const;
}

/**
 * A catalog entry contradicts itself (native version not writable or readable, a version that is
 * unknown, or a version not reachable from native through declared migrators).
 */
export class CatalogInvalidError extends SchemaError {
  /** Always `"CATALOG_INVALID"`. */
  readonly code = "CATALOG_INVALID" as const;
}
