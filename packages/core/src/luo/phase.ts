/**
 * The phases of a live update, as the 2025 kernel discussion named them (the "common language"):
 *
 * - `NORMAL`: no update in progress; objects may be preserved into sessions.
 * - `PREPARED`: brownout. Preserved objects are prepared and (usually) serialized while the VMs
 *   still run; operations that change preserved state are refused or dirty-tracked.
 * - `FROZEN`: blackout. Freeze hooks ran, dirty objects were re-serialized, the LUO handover is
 *   published and the KHO handover finalized; the next step is the kexec reboot.
 * - `UPDATED`: the new kernel restored the preserved objects; sessions wait to be retrieved and
 *   finished. Back to `NORMAL` once every incoming session is finished.
 *
 * `CANCEL` is a transition, not a phase: PREPARED or FROZEN back to NORMAL.
 */
export type LuoPhase = "NORMAL" | "PREPARED" | "FROZEN" | "UPDATED";

/** Every phase, in lifecycle order (for tables and iteration). */
export const LUO_PHASES: readonly LuoPhase[] = Object.freeze(["NORMAL", "PREPARED", "FROZEN", "UPDATED"]);

/** One allowed phase transition. */
export interface LuoTransition {
  /** Phase left. */
  readonly from: LuoPhase;
  /** Phase entered. */
  readonly to: LuoPhase;
  /** The call (or event) that makes it. */
  readonly via: "prepare" | "freeze" | "cancel" | "reboot" | "finish";
}

/**
 * The allowed phase transitions and the call that makes each. `reboot` is the kexec itself: the
 * old kernel's LUO is gone and the new kernel's starts in `UPDATED` (or `NORMAL` without handover).
 */
export const LUO_TRANSITIONS: readonly LuoTransition[] = Object.freeze([
  { from: "NORMAL", to: "PREPARED", via: "prepare" },
  { from: "PREPARED", to: "FROZEN", via: "freeze" },
  { from: "PREPARED", to: "NORMAL", via: "cancel" },
  { from: "FROZEN", to: "NORMAL", via: "cancel" },
  { from: "FROZEN", to: "UPDATED", via: "reboot" },
  { from: "UPDATED", to: "NORMAL", via: "finish" },
]);
