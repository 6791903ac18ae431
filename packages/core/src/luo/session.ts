import type { DriverClass } from "./handlers/types.js";

/** Options of {@link LuoSession.preserve}. */
export interface PreserveOptions {
  /**
   * The driver that handles the object. Default: the first driver of the build (in dependency
   * order) whose `canPreserve` hook accepts it (upstream asks every registered handler).
   */
  readonly driver?: DriverClass;
}

/**
 * What a session asks of its orchestrator.
 *
 * @internal
 */
export interface OutgoingSessionOps {
  preserve(session: LuoSession, token: bigint, object: unknown, options: PreserveOptions): void;
  unpreserve(session: LuoSession, token: bigint): void;
  close(session: LuoSession): void;
  tokens(session: LuoSession): bigint[];
  object(session: LuoSession, token: bigint): unknown;
  isOpen(session: LuoSession): boolean;
}

/**
 * What happened to an incoming object: `pending` (listed in the handover and validated at boot, not
 * retrieved yet — restore is lazy), `restored`, `reset` (dropped by the `reset` restore policy),
 * `failed` (its restore failed at retrieve under the `abort` policy: every retrieve throws
 * `LuoRestoreAbortedError`, its memory stays reserved) or `finished`.
 */
export type IncomingObjectStatus = "pending" | "restored" | "reset" | "failed" | "finished";

/**
 * What an incoming session asks of its orchestrator.
 *
 * @internal
 */
export interface IncomingSessionOps {
  retrieve(session: IncomingSession, token: bigint): unknown;
  tokens(session: IncomingSession): bigint[];
  status(session: IncomingSession, token: bigint): IncomingObjectStatus;
  finish(session: IncomingSession): void;
  isFinished(session: IncomingSession): boolean;
}

/**
 * Creates an outgoing session handle (the constructor is private: only the orchestrator makes them).
 *
 * @internal
 */
export let newLuoSession: (name: string, ops: OutgoingSessionOps) => LuoSession;

/**
 * Creates an incoming session handle.
 *
 * @internal
 */
export let newIncomingSession: (name: string, ops: IncomingSessionOps) => IncomingSession;

/** Normalizes a token given as number or bigint (`u64`). Returns undefined when out of range. */
export function normalizeToken(token: number | bigint): bigint | undefined {
  if (typeof token === "number") {
    if (!Number.isSafeInteger(token) || token < 0) return undefined;
    return BigInt(token);
  }
  if (typeof token !== "bigint" || token < 0n || token > 0xffff_ffff_ffff_ffffn) return undefined;
  return token;
}

/**
 * An outgoing session (upstream: a session created with `LIVEUPDATE_IOCTL_CREATE_SESSION`): a named
 * set of objects preserved by token for the next kernel. Get one from `luo.createSession(name)`.
 *
 * @example
 * ```ts
 * const session = luo.createSession("vm-42");
 * session.preserve(1, guestMemory);
 * session.preserve(2, vfioDevice);
 * ```
 */
export class LuoSession {
  static {
    newLuoSession = (name, ops) => new LuoSession(name, ops);
  }

  /** Session name. */
  readonly name: string;
  private readonly ops: OutgoingSessionOps;

  private constructor(name: string, ops: OutgoingSessionOps) {
    this.name = name;
    this.ops = ops;
  }

  /**
   * Preserves `object` under `token` (upstream `LIVEUPDATE_SESSION_PRESERVE_FD`). In NORMAL (or
   * UPDATED) the object is registered; during brownout it is prepared and serialized at once.
   *
   * @param token - unique in this session (u64).
   * @param object - the object (an instance a driver handles).
   * @param options - the driver, when not found through `canPreserve`.
   * @throws `LuoTokenExistsError` (EEXIST), `LuoNoHandlerError` (ENOENT), `LuoObjectBusyError`
   *   (EBUSY, already preserved), `LuoPhaseError` (EBUSY, blackout or closed session),
   *   `LuoInvalidArgumentError` (EINVAL), `LuoHookFailedError` (brownout preparation failed).
   */
  preserve(token: number | bigint, object: unknown, options: PreserveOptions = {}): void {
    this.ops.preserve(this, token as bigint, object, options);
  }

  /**
   * Drops the object of `token` (upstream `unpreserve`); during brownout its cancel hook runs.
   *
   * @throws `LuoTokenNotFoundError` (ENOENT), `LuoPhaseError` (EBUSY during blackout).
   */
  unpreserve(token: number | bigint): void {
    this.ops.unpreserve(this, token as bigint);
  }

  /**
   * Closes the session before reboot: its objects are cancelled (when prepared) and dropped, and
   * the name becomes free again.
   *
   * @throws `LuoPhaseError` (EBUSY during blackout).
   */
  close(): void {
    this.ops.close(this);
  }

  /** Tokens of the session's objects, in preservation order. */
  tokens(): bigint[] {
    return this.ops.tokens(this);
  }

  /**
   * The object preserved under `token`.
   *
   * @throws `LuoTokenNotFoundError` (ENOENT).
   */
  object(token: number | bigint): unknown {
    return this.ops.object(this, token as bigint);
  }

  /** False once {@link LuoSession.close} ran (or the session was handed over). */
  get open(): boolean {
    return this.ops.isOpen(this);
  }
}

/**
 * A session restored in the new kernel (upstream `LIVEUPDATE_IOCTL_RETRIEVE_SESSION`). Retrieve its
 * objects by token, then finish it.
 *
 * @example
 * ```ts
 * const session = next.luo.retrieveSession("vm-42");
 * const memory = session.retrieve(1) as GuestMemory;
 * session.finish();
 * ```
 */
export class IncomingSession {
  static {
    newIncomingSession = (name, ops) => new IncomingSession(name, ops);
  }

  /** Session name. */
  readonly name: string;
  private readonly ops: IncomingSessionOps;

  private constructor(name: string, ops: IncomingSessionOps) {
    this.name = name;
    this.ops = ops;
  }

  /**
   * The restored object of `token` (upstream `LIVEUPDATE_SESSION_RETRIEVE_FD`). Restore is lazy, as
   * upstream's: the first retrieve decodes the object's state and runs its driver's `restore` hook
   * (after its FLBs, and after pending objects of this session whose drivers it depends on); later
   * retrieves return the same object.
   *
   * @throws `LuoTokenNotFoundError` (ENOENT), `LuoObjectResetError` (ENOENT, dropped by the
   *   `reset` policy, at boot or by this retrieve), `LuoRestoreAbortedError` (EIO: decode or restore
   *   failed under the `abort` policy — the kernel cannot panic retroactively from a userspace call,
   *   so upstream's retrieve ioctl returns an error; the object is then `failed`).
   */
  retrieve(token: number | bigint): unknown {
    return this.ops.retrieve(this, token as bigint);
  }

  /** Tokens of the session's objects (restored or reset). */
  tokens(): bigint[] {
    return this.ops.tokens(this);
  }

  /**
   * What happened to the object of `token`.
   *
   * @throws `LuoTokenNotFoundError` (ENOENT).
   */
  status(token: number | bigint): IncomingObjectStatus {
    return this.ops.status(this, token as bigint);
  }

  /**
   * Finishes the session (upstream `LIVEUPDATE_SESSION_FINISH`). Objects never retrieved are
   * restored first (restore-then-finish, so their drivers tear them down through their usual
   * hooks; a failure there resets or — under `abort` — fails the object, recorded, not thrown).
   * Then `canFinish` on every object —
   * one refusal refuses the whole session and nothing is finished — then `finish` on each
   * (consumers first; errors are recorded in the timeline, not thrown), then FLBs whose last user
   * finished. The orchestrator returns to NORMAL when every incoming session is finished.
   *
   * @throws `LuoSessionBusyError` (EBUSY) when an object cannot finish yet; `LuoPhaseError` when
   *   already finished.
   */
  finish(): void {
    this.ops.finish(this);
  }

  /** True once finished. */
  get finished(): boolean {
    return this.ops.isFinished(this);
  }
}
