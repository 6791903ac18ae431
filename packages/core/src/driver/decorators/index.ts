/**
 * The driver SDK's decorators, one per file.
 *
 * @module
 */
export { Cancel } from "./cancel.decorator.js";
export { CarveOut } from "./carve-out.decorator.js";
export { Finish } from "./finish.decorator.js";
export { FinishCheck } from "./finish-check.decorator.js";
export { Freeze } from "./freeze.decorator.js";
export { LiveUpdateDriver } from "./live-update-driver.decorator.js";
export { LiveUpdateFlb } from "./live-update-flb.decorator.js";
export { type GuardedMethodDecorator, PhaseGuard, type PhaseGuardOptions } from "./phase-guard.decorator.js";
export { Prepare } from "./prepare.decorator.js";
export { PreserveCheck } from "./preserve-check.decorator.js";
export { Restore } from "./restore.decorator.js";
export { Serialize } from "./serialize.decorator.js";
