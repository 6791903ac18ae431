/**
 * The phase of a live update as the hardware counts it. Devices do not know about kernels; the
 * orchestrator tells the machine which phase it is in, so device progress can be counted per phase
 * ("DMA continued during the blackout" becomes a number):
 *
 * - `before`: no update in progress (LUO NORMAL before an update, and again after a cancel);
 * - `brownout`: LUO PREPARED (the VMs still run);
 * - `blackout`: LUO FROZEN, the kexec reboot, the new kernel's early boot and restore, until the
 *   VMM marks the VMs resumed (`Luo.markResumed`) or every incoming session is finished;
 * - `after`: the update is complete (resume mark, or NORMAL after finish).
 */
export type UpdatePhase = "before" | "brownout" | "blackout" | "after";

/** Every {@link UpdatePhase}, in lifecycle order. */
export const UPDATE_PHASES: readonly UpdatePhase[] = Object.freeze([
  "before",
  "brownout",
  "blackout",
  "after",
]);

/** A count per {@link UpdatePhase} (bytes copied, descriptors completed, nanoseconds run, …). */
export type PhaseCounts = Record<UpdatePhase, number>;

/** A fresh all-zero {@link PhaseCounts}. */
export function zeroPhaseCounts(): PhaseCounts {
  return { before: 0, brownout: 0, blackout: 0, after: 0 };
}
