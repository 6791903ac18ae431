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

/** A session handle was used after its session was closed (or replaced by one of the same name). */
export class LuoSessionClosedError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_SESSION_CLOSED";
  /** @inheritDoc */
  readonly errno = "EBADF";
  /** @param session - the name. */
  constructor(session: string) {
    super(`session "${session}" is closed`, { session });
  }
}

/** An incoming session was finished already (a session finishes once). */
export class LuoSessionFinishedError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_SESSION_FINISHED";
  /** @inheritDoc */
  readonly errno = "EINVAL";
  /** @param session - the name. */
  constructor(session: string) {
    super(`session "${session}" was already finished`, { session });
  }
}

/**
 * An internal invariant of the orchestrator does not hold (a bug, not a caller error): e.g. a phase
 * transition outside `LUO_TRANSITIONS`, or serializing without a negotiated version.
 */
export class LuoInternalError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_INTERNAL";
  /** @inheritDoc */
  readonly errno = "EFAULT";
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
 * The kexec-loaded build changed (or was unloaded) after prepare negotiated the handover versions
 * against it: the staged kernel might not read what was serialized. The update was cancelled (the
 * kernel is back in NORMAL); load the build again, or prepare again against the new one.
 */
export class LuoTargetChangedError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_TARGET_CHANGED";
  /** @inheritDoc */
  readonly errno = "EINVAL";
  /**
   * @param operation - the call that noticed (`freeze`, `reboot`).
   * @param negotiated - version of the build prepare negotiated with.
   * @param loaded - version of the build kexec-loaded now (undefined: none).
   */
  constructor(operation: string, negotiated: string, loaded: string | undefined) {
    super(
      `${operation}: the kexec-loaded build changed since prepare (negotiated with ${negotiated}, loaded now: ${loaded ?? "none"}); update cancelled`,
      { operation, negotiatedBuild: negotiated, loadedBuild: loaded },
    );
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
 * A fault injected through `LuoOptions.injectFault` (a drill): the hook did not run. Prepare,
 * serialize and freeze faults cancel the update as any hook failure does; restore faults follow
 * the driver's restore policy.
 */
export class LuoInjectedFaultError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_INJECTED_FAULT";
  /** @inheritDoc */
  readonly errno = "EIO";
  /**
   * @param hook - the hook that was made to fail.
   * @param driver - its driver or FLB.
   */
  constructor(hook: string, driver: string) {
    super(`injected fault: ${hook} of ${driver}`, { hook, driver });
  }
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

/**
 * Serialized state does not fit preserved memory: one value needs more than the arena's limit, or
 * no physically contiguous run of folios large enough is free.
 */
export class LuoStateTooLargeError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_STATE_TOO_LARGE";
  /** @inheritDoc */
  readonly errno = "E2BIG";
  /**
   * @param bytes - bytes requested.
   * @param limit - the arena's limit.
   * @param detail - why it cannot be served.
   */
  constructor(bytes: number, limit: number, detail: string) {
    super(`serialized state needs ${bytes} contiguous bytes of preserved memory: ${detail}`, {
      bytes,
      limit,
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
 * fails loudly. At boot (the handover itself is invalid for it: no handler, corrupt record, bad
 * folio list) the new kernel's boot throws it, as upstream panics; at retrieve (its state does not
 * decode, or its `restore` hook failed) `IncomingSession.retrieve` throws it (context `at:
 * "retrieve"`), as upstream's retrieve ioctl returns an error. `cause` is the original error.
 */
export class LuoRestoreAbortedError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_RESTORE_ABORTED";
  /** @inheritDoc */
  readonly errno = "EIO";
}

/** A codec tried to write or allocate handover memory during restore (it is read-only then). */
export class LuoReadOnlyMemoryError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_READ_ONLY_MEMORY";
  /** @inheritDoc */
  readonly errno = "EROFS";
  /** @param operation - `write` or `allocate`. */
  constructor(operation: string) {
    super(`handover memory is read-only during restore (${operation} refused)`, { operation });
  }
}

/**
 * An object needs an FLB (shared driver state) whose restore failed earlier: the object cannot be
 * restored either. `cause` is the FLB's restore error.
 */
export class LuoFlbUnavailableError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_FLB_UNAVAILABLE";
  /** @inheritDoc */
  readonly errno = "ENODEV";
  /**
   * @param flb - the FLB's name.
   * @param compatible - its compatible string in the handover.
   * @param cause - why its restore failed.
   */
  constructor(flb: string, compatible: string, cause: unknown) {
    super(
      `FLB ${flb} could not be restored: ${cause instanceof Error ? cause.message : String(cause)}`,
      { driver: flb, compatible },
      { cause },
    );
  }
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
   * @param hint - why the address cannot be one (e.g. it looks like a virtual address, of field X).
   */
  constructor(owner: string, phys: number, order: number, hint?: string) {
    super(
      `${owner}: folio 0x${phys.toString(16)} order ${order} is not listed for this object in the handover` +
        `${hint === undefined ? "" : `: ${hint}`}`,
      {
        driver: owner,
        phys,
        order,
        ...(hint === undefined ? {} : { hint }),
      },
    );
  }
}

/**
 * A folio field of a driver's state (declared with `folio()`) names memory the object does not own:
 * at serialize, a folio the object did not preserve (it would not survive the kexec); at restore, a
 * folio the handover does not list for the object with that order (a corrupt or hostile handover).
 * Raised before anything is encoded or before the restore hook runs; `context` names the driver,
 * the object (session and token; none for an FLB), the field path, the address and the order.
 */
export class LuoFolioFieldError extends LuoError {
  /** @inheritDoc */
  readonly code = "LUO_FOLIO_FIELD";
  /** @inheritDoc */
  readonly errno = "EINVAL";
}
