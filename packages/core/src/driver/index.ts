/**
 * The driver SDK: decorators declaring a live-update driver and its hooks, the hook contracts
 * (one interface per hook, mapped to upstream `liveupdate_file_ops`), FLBs (shared driver state),
 * phase guards and the generated phase table, and the injection tokens of the per-boot container.
 *
 * @module
 */
export type {
  CancelContext,
  FinishContext,
  FlbCancelContext,
  FlbFinishContext,
  FlbFreezeContext,
  FlbHookContext,
  FlbPrepareContext,
  FlbRestoreContext,
  FlbSerializeContext,
  FreezeContext,
  ObjectHookContext,
  PrepareContext,
  PreserveApi,
  PreservedFolio,
  RestoreApi,
  RestoreContext,
  SerializeContext,
} from "../luo/handlers/contexts.js";
export {
  DriverCompatibleConflictError,
  DriverDeclarationError,
  DriverDependencyCycleError,
  DriverError,
  DriverHookAsyncError,
  DriverInjectionError,
  DriverMissingDependencyError,
} from "../luo/handlers/errors.js";
export {
  type DriverHookTable,
  type FlbHookTable,
  flbHookOf,
  hasHook,
  hookOf,
} from "../luo/handlers/hook-guards.js";
export {
  type FlbHookName,
  HOOK_METHOD_NAMES,
  HOOK_NAMES,
  type HookName,
  UPSTREAM_FILE_OPS,
  UPSTREAM_FLB_OPS,
} from "../luo/handlers/hook-names.js";
export {
  getDriverMetadata,
  getFlbMetadata,
  getHandlerMetadata,
  getHookMethods,
  getPhaseGuards,
  isDriverClass,
  isFlbClass,
  type PhaseGuardDeclaration,
} from "../luo/handlers/metadata.js";
export {
  DRIVER_METADATA,
  FLB_METADATA,
  HOOKS_METADATA,
  PHASE_GUARDS_METADATA,
} from "../luo/handlers/metadata-keys.js";
export { KERNEL, KERNEL_BUILD, KHO, LUO, MACHINE, TIMELINE } from "../luo/handlers/tokens.js";
export type {
  ClassList,
  DriverClass,
  DriverMetadata,
  FlbClass,
  FlbMetadata,
  HandlerMetadata,
  HandlerOptions,
  LiveUpdateDriverOptions,
  LiveUpdateFlbOptions,
  ResetReport,
  RestorePolicy,
  SerializeAt,
} from "../luo/handlers/types.js";
export * from "./decorators/index.js";
export type { CanFinish, CanFinishHook } from "./hooks/can-finish.hook.js";
export type { CanPreserve, CanPreserveHook } from "./hooks/can-preserve.hook.js";
export type { CancelHook, FlbCancelHook, OnCancel, OnFlbCancel } from "./hooks/cancel.hook.js";
export type { FinishHook, FlbFinishHook, OnFinish, OnFlbFinish } from "./hooks/finish.hook.js";
export type { FlbFreezeHook, FreezeHook, OnFlbFreeze, OnFreeze } from "./hooks/freeze.hook.js";
export type { FlbPrepareHook, OnFlbPrepare, OnPrepare, PrepareHook } from "./hooks/prepare.hook.js";
export type { FlbRestoreHook, OnFlbRestore, OnRestore, RestoreHook } from "./hooks/restore.hook.js";
export type { FlbSerializeHook, OnFlbSerialize, OnSerialize, SerializeHook } from "./hooks/serialize.hook.js";
export {
  type PhaseCell,
  type PhaseTableRow,
  phaseTable,
  renderPhaseTable,
  SESSION_OPERATION_TABLE,
} from "./phase-table.js";
