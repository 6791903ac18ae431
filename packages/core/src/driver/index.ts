/**
 * **Start here to write a driver.** The driver SDK: the decorators that declare a live-update
 * driver and its hooks, the hook contracts (one interface per hook, mapped to upstream
 * `liveupdate_file_ops`), the contexts each hook receives, FLBs (state shared by a driver's
 * objects), phase guards and the generated phase table, and the injection tokens of the per-boot
 * container. The guide "Writing a live-update driver" walks through all of it; the `testkit`
 * module tests the result, `schema` declares the state that crosses the kexec.
 *
 * @categoryDescription Decorators
 * `@LiveUpdateDriver` / `@LiveUpdateFlb` declare a class, the hook decorators mark methods
 * (or implement the hook contracts' method names instead), `@PhaseGuard` restricts operations
 * during an update.
 * @categoryDescription Hook contracts
 * One interface per hook (`OnPrepare`, `OnSerialize`, `OnFreeze`, `OnRestore`, `OnCancel`,
 * `OnFinish`, `CanPreserve`, `CanFinish`), and their FLB counterparts.
 * @categoryDescription Hook contexts
 * What each hook receives: the object's session and token, preservation (`PreserveApi`) before
 * kexec, restoration (`RestoreApi`) after it.
 * @categoryDescription Declarations
 * The options of the decorators and the metadata they record (read by the orchestrator, the
 * testkit and tools).
 * @categoryDescription Hook tables
 * Hook names, their upstream counterparts, and how a class's hooks are found.
 * @categoryDescription Injection tokens
 * Kernel services a driver can inject in its constructor (the machine, the kernel, KHO, LUO, …).
 * @categoryDescription Phase guards
 * The table of which operations each phase allows, generated from the declarations.
 * @module driver
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
  PHASE_TABLE_MARKER,
  type PhaseCell,
  type PhaseTableRow,
  phaseTable,
  phaseTableDrift,
  renderPhaseTable,
  SESSION_OPERATION_TABLE,
} from "./phase-table.js";
