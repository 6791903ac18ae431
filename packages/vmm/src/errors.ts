import { LiveUpdateError } from "@liveupdate/core";

/** Base of every error of the VMM model. */
export abstract class VmmError extends LiveUpdateError {}

/** A VM specification is invalid: a bad name, a RAM size too small or unaligned, no device, a BDF twice. */
export class VmmConfigError extends VmmError {
  /** Stable code. */
  readonly code = "VMM_CONFIG";
}

/**
 * A VM cannot be resumed after the update: its session is missing, or an object the VM needs was
 * not restored (reset by a restore policy, or absent from the handover). `context.vm` names it.
 */
export class VmmResumeError extends VmmError {
  /** Stable code. */
  readonly code = "VMM_RESUME";
}

/** An operation does not fit the VM's state (pausing a paused VM, using a VM of a previous VMM). */
export class VmmStateError extends VmmError {
  /** Stable code. */
  readonly code = "VMM_STATE";
}
