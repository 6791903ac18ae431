import { LiveUpdateError } from "../common/errors.js";

/**
 * Base of the orchestrator's errors. `errno` is what upstream LUO returns for the same failure
 * (`EEXIST` for a duplicate token, `ENOENT` for an unknown session, `EBUSY` for a refused
 * operation, …).
 */
export abstract class LuoError extends LiveUpdateError {
  /** Upstream errno name. */
  abstract readonly errno: string;
}

/** A session with that name already exists (outgoing, or incoming and not finished). */
export class LuoSessionExistsError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_SESSION_EXISTS";
  /** @inheritDoc */
  readonly errno = "EEXIST";
  /** @param session - the name. */
  constructor(session: string) {
    super(`session "${session}" already exists`, { session });
  }
}

/** The token is already used in the session. */
export class LuoTokenExistsError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_TOKEN_EXISTS";
  /** @inheritDoc */
  readonly errno = "EEXIST";
  /**
   * @param session - session name.
   * @param token - the token.
   */
  constructor(session: string, token: bigint) {
    super(`session "${session}" already has token ${token}`, { session, token });
  }
}

/** No incoming session has that name. */
export class LuoSessionNotFoundError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_SESSION_NOT_FOUND";
  /** @inheritDoc */
  readonly errno = "ENOENT";
  /** @param session - the name. */
  constructor(session: string) {
    super(`no session "${session}"`, { session });
  }
}

/** The incoming session was already retrieved (a session is retrieved once). */
export class LuoSessionRetrievedError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_SESSION_RETRIEVED";
  /** @inheritDoc */
  readonly errno = "EINVAL";
  /** @param session - the name. */
  constructor(session: string) {
    super(`session "${session}" was already retrieved`, { session });
  }
}

/** The session has no object with that token. */
export class LuoTokenNotFoundError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_TOKEN_NOT_FOUND";
  /** @inheritDoc */
  readonly errno = "ENOENT";
  /**
   * @param session - session name.
   * @param token - the token.
   */
  constructor(session: string, token: bigint) {
    super(`session "${session}" has no token ${token}`, { session, token });
  }
}

/** The object of that token was dropped by the `reset` restore policy. */
export class LuoObjectResetError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_OBJECT_RESET";
  /** @inheritDoc */
  readonly errno = "ENOENT";
  /**
   * @param session - session name.
   * @param token - the token.
   * @param driver - driver (or compatible string).
   * @param reason - why it could not be restored.
   */
  constructor(session: string, token: bigint, driver: string, reason: string) {
    super(`session "${session}" token ${token} (${driver}) was reset after a failed restore: ${reason}`, {
      session,
      token,
      driver,
      reason,
    });
  }
}

/** An argument is malformed: a session name that does not fit, a negative token, … */
export class LuoInvalidArgumentError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_INVALID_ARGUMENT";
  /** @inheritDoc */
  readonly errno = "EINVAL";
}

/** No driver of the build can preserve the object (every `canPreserve` said no). */
export class LuoNoHandlerError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_NO_HANDLER";
  /** @inheritDoc */
  readonly errno = "ENOENT";
  /**
   * @param session - session name.
   * @param token - the token.
   * @param detail - what was tried.
   */
  constructor(session: string, token: bigint, detail: string) {
    super(`session "${session}" token ${token}: ${detail}`, { session, token });
  }
}

/** The object is already preserved (under another token or session). */
export class LuoObjectBusyError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_OBJECT_BUSY";
  /** @inheritDoc */
  readonly errno = "EBUSY";
  /**
   * @param session - where it is preserved.
   * @param token - its token there.
   * @param driver - its driver.
   */
  constructor(session: string, token: bigint, driver: string) {
    super(`object is already preserved as session "${session}" token ${token} (${driver})`, {
      session,
      token,
      driver,
    });
  }
}

/** The orchestrator call is not possible in the current phase. */
export class LuoPhaseError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_WRONG_PHASE";
  /** @inheritDoc */
  readonly errno = "EBUSY";
  /**
   * @param operation - what was attempted.
   * @param phase - the current phase.
   * @param context - more facts (session, token, …).
   */
  constructor(operation: string, phase: string, context: Readonly<Record<string, unknown>> = {}) {
    super(`${operation} is not allowed in phase ${phase}`, { operation, phase, ...context });
  }
}

/** A `@PhaseGuard` operation was refused on a preserved object (errno `EBUSY`). */
export class LuoOperationRefusedError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_OPERATION_REFUSED";
  /** @inheritDoc */
  readonly errno = "EBUSY";
  /**
   * @param driver - driver (or FLB) name.
   * @param operation - the operation.
   * @param phase - the phase that refuses it.
   * @param where - session and token of the object, when it is one object.
   */
  constructor(
    driver: string,
    operation: string,
    phase: string,
    where: { session?: string; token?: bigint } = {},
  ) {
    const what = where.session === undefined ? "" : ` on session "${where.session}" token ${where.token}`;
    super(`${driver}.${operation}${what} is refused in phase ${phase}`, {
      driver,
      operation,
      phase,
      ...where,
    });
  }
}

/** `prepare` was called without a kexec-loaded target build (negotiation needs it). */
export class LuoNoTargetError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_NO_KEXEC_TARGET";
  /** @inheritDoc */
  readonly errno = "ENOEXEC";
  /** @param bootId - the running boot. */
  constructor(bootId: number) {
    super(`boot #${bootId}: no kernel is kexec-loaded; load the target build before preparing`, { bootId });
  }
}

/**
 * Negotiation between the running and the target build failed: the update is refused before
 * PREPARED completes. `cause` is the schema layer's `NegotiationError`; its context (driver, both
 * version sets) is copied here.
 */
export class LuoNegotiationRefusedError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_NEGOTIATION_REFUSED";
  /** @inheritDoc */
  readonly errno = "EOPNOTSUPP";
}

/**
 * A prepare, serialize or freeze hook (or the encoding of its state) failed; the update was
 * cancelled and the old kernel is back in NORMAL. `cause` is the original error.
 */
export class LuoHookFailedError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_HOOK_FAILED";
  /** @inheritDoc */
  readonly errno: string;
  /**
   * @param hook - the failing hook (or `encode`).
   * @param where - driver, and session/token for an object.
   * @param cause - the original error.
   */
  constructor(
    hook: string,
    where: { driver: string; session?: string; token?: bigint; phase: string },
    cause: unknown,
  ) {
    const what =
      where.session === undefined
        ? where.driver
        : `${where.driver} (session "${where.session}" token ${where.token})`;
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`${hook} of ${what} failed; update cancelled: ${detail}`, { hook, ...where }, { cause });
    const errno = (cause as { errno?: unknown } | null | undefined)?.errno;
    this.errno = typeof errno === "string" ? errno : "EIO";
  }
}

/** A session cannot be finished: an object's `canFinish` said no (nothing was finished). */
export class LuoSessionBusyError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_SESSION_BUSY";
  /** @inheritDoc */
  readonly errno = "EBUSY";
  /**
   * @param session - session name.
   * @param token - the first object that refused.
   * @param driver - its driver.
   */
  constructor(session: string, token: bigint, driver: string) {
    super(`session "${session}" cannot finish: token ${token} (${driver}) is not ready`, {
      session,
      token,
      driver,
    });
  }
}

/** The orchestrator's own handover (the `luo` subtree) is missing pieces or invalid. */
export class LuoHandoverCorruptError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_HANDOVER_CORRUPT";
  /** @inheritDoc */
  readonly errno = "EINVAL";
}

/**
 * An object (or FLB) of a driver with restore policy `abort` could not be restored: the update
 * fails loudly (upstream panics). `cause` is the original error.
 */
export class LuoRestoreAbortedError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_RESTORE_ABORTED";
  /** @inheritDoc */
  readonly errno = "EIO";
}

/** A restore context was asked for memory that the old kernel did not list for that object. */
export class LuoFolioNotOwnedError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_FOLIO_NOT_OWNED";
  /** @inheritDoc */
  readonly errno = "EINVAL";
  /**
   * @param owner - driver (and object) asking.
   * @param phys - folio address.
   * @param order - folio order.
   */
  constructor(owner: string, phys: number, order: number) {
    super(
      `${owner}: folio 0x${phys.toString(16)} order ${order} is not listed for this object in the handover`,
      {
        driver: owner,
        phys,
        order,
      },
    );
  }
}
