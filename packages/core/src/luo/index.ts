/**
 * The Live Update Orchestrator: sessions and tokens, the phase state machine, hook ordering by the
 * driver dependency graph, phase guards, negotiation, its own handover in the `luo` KHO subtree,
 * restore policies, the timeline (brownout, blackout, per-driver and per-object figures), and the
 * boot helpers that wire kernel, KHO, DI and drivers. Drivers rarely call it directly: the
 * `driver` module is their API; the concept guide "Driver lifecycle" explains the phases.
 *
 * @module luo
 */
export {
  bootLiveUpdateKernel,
  type KexecIntoNextOptions,
  kexecIntoNext,
  type LiveUpdateBootOptions,
  type LiveUpdateKernel,
} from "./boot.js";
export { kernelBound } from "./container.js";
export {
  LuoError,
  LuoFlbUnavailableError,
  LuoFolioFieldError,
  LuoFolioNotOwnedError,
  LuoHandoverCorruptError,
  LuoHookFailedError,
  LuoInjectedFaultError,
  LuoInternalError,
  LuoInvalidArgumentError,
  LuoNegotiationRefusedError,
  LuoNoHandlerError,
  LuoNoTargetError,
  LuoObjectBusyError,
  LuoObjectResetError,
  LuoOperationRefusedError,
  LuoPhaseError,
  LuoReadOnlyMemoryError,
  LuoRestoreAbortedError,
  LuoSessionBusyError,
  LuoSessionClosedError,
  LuoSessionExistsError,
  LuoSessionFinishedError,
  LuoSessionNotFoundError,
  LuoSessionRetrievedError,
  LuoStateTooLargeError,
  LuoTargetChangedError,
  LuoTokenExistsError,
  LuoTokenNotFoundError,
} from "./errors.js";
export {
  LUO_COMPATIBLE_LENGTH,
  LUO_FILE_RESET_ALLOWED,
  LUO_FOLIO_DATA,
  LUO_SCHEMA,
  LUO_SESSION_NAME_LENGTH,
  LUO_SUBTREE,
  type LuoFileRecord,
  LuoFileV1,
  type LuoFlbRecord,
  LuoFlbV1,
  type LuoFolioRecord,
  LuoFolioV1,
  LuoHandoverV1,
  type LuoHandoverValue,
  type LuoSessionRecord,
  LuoSessionV1,
} from "./handover-schema.js";
export {
  type FinishReport,
  type FreezeReport,
  Luo,
  type LuoInit,
  type LuoOptions,
  type ObjectLocation,
  type PrepareReport,
} from "./orchestrator.js";
export { LUO_PHASES, LUO_TRANSITIONS, type LuoPhase, type LuoTransition } from "./phase.js";
export { DriverRegistry, type HandlerUnit } from "./registry.js";
export {
  type IncomingObjectStatus,
  IncomingSession,
  LuoSession,
  normalizeToken,
  type PreserveOptions,
} from "./session.js";
export {
  type DirtyEvent,
  type DriverTotals,
  type ErrorEvent,
  type HandoverEvent,
  type HandoverObjectBytes,
  type HookEvent,
  type NegotiatedEvent,
  type NegotiatedVersion,
  type ObjectTotals,
  type PhaseEvent,
  type ResetEvent,
  type ResumedEvent,
  type StepEvent,
  Timeline,
  type TimelineError,
  type TimelineEvent,
  type TimelineEventBase,
  type TimelineEventInput,
  type TimelineEventTime,
  type TimelineStep,
  toTimelineError,
  type UpdateSummary,
  type WarningEvent,
} from "./timeline.js";
