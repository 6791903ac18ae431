import {
  bootLiveUpdateKernel,
  type FreezeReport,
  type KernelBuild,
  type KexecHandoff,
  type LiveUpdateKernel,
  type LuoOptions,
  type Machine,
  type PrepareReport,
} from "@liveupdate/core";
import { Vmm } from "./vmm.js";

/** How {@link updateHost} runs one live update. */
export interface HostUpdateOptions {
  /** The build to update to. */
  readonly to: KernelBuild;
  /** Its command line (default: the running kernel's). */
  readonly cmdline?: string;
  /** VMM loop turns during the brownout, vCPUs running (default 4). */
  readonly brownoutTurns?: number;
  /** Machine time per turn, ns (default 50 µs). */
  readonly turnNs?: number;
  /** Cancel instead of rebooting, once the update reached this phase (an operator's cancel). */
  readonly cancelAt?: "PREPARED" | "FROZEN";
  /** Orchestrator settings of the new kernel (default: the running kernel's, without fault injection). */
  readonly luo?: LuoOptions;
  /** Seed of the new kernel's boot. */
  readonly seed?: number;
  /**
   * Called once the old kernel stopped and before the new one boots: the handover is in memory and
   * the devices keep running (write artifacts, or corrupt the handover in a drill).
   */
  readonly beforeBoot?: (handoff: KexecHandoff, machine: Machine) => void;
}

/** An update that reached the new kernel. */
export interface HostUpdated {
  /** Discriminant. */
  readonly outcome: "updated";
  /** The new VMM, on the new kernel, its VMs resumed. */
  readonly vmm: Vmm;
  /** The new kernel. */
  readonly kernel: LiveUpdateKernel;
  /** The update's number on the machine's timeline. */
  readonly update: number;
  /** What prepare reported (negotiated versions). */
  readonly prepare: PrepareReport;
  /** What freeze reported (handover size). */
  readonly freeze: FreezeReport;
  /** What crossed the kexec. */
  readonly handoff: KexecHandoff;
}

/** An update that was cancelled, or refused before the kexec: the old kernel runs on, intact. */
export interface HostUpdateCancelled {
  /** Discriminant. */
  readonly outcome: "cancelled";
  /** The same VMM, on the old kernel, its VMs running. */
  readonly vmm: Vmm;
  /** The old kernel (phase NORMAL). */
  readonly kernel: LiveUpdateKernel;
  /** The update's number on the machine's timeline. */
  readonly update: number;
  /** Where it stopped: `prepare`, `freeze`, or the `cancelAt` phase. */
  readonly stage: string;
  /** The typed error of a refused update; undefined for an operator's cancel. */
  readonly error: unknown;
}

/**
 * One live update of the host under running VMs, as a VMM-aware update tool runs it: kexec-load
 * the target, prepare (brownout begins; the VMs keep running for `brownoutTurns` turns of the
 * VMM's loop), pause the vCPUs, freeze (blackout), reboot, boot the new kernel (it restores the
 * handover), hand the VMs to a new VMM ({@link Vmm.resume}), which marks the end of the
 * blackout, and finish the update ({@link Vmm.finishUpdate}). A failure before the reboot (negotiation refused, a hook failed) or a requested cancel
 * leaves the old kernel in NORMAL with its VMs running: the outcome is `cancelled`, never thrown.
 * After the reboot there is no old kernel to go back to: a VM the new kernel cannot restore is in
 * the new VMM's `failed` map; a handover the new kernel refuses at boot throws.
 *
 * @param vmm - the VMM whose VMs are preserved already ({@link Vmm.preserveAll}).
 * @param options - target, brownout length, cancel, hooks.
 * @throws what `bootLiveUpdateKernel` throws, after the reboot.
 */
export function updateHost(vmm: Vmm, options: HostUpdateOptions): HostUpdated | HostUpdateCancelled {
  const lk = vmm.lk;
  const turnNs = options.turnNs ?? 50_000;
  lk.kernel.kexecLoad(options.to, options.cmdline !== undefined ? { cmdline: options.cmdline } : {});
  const update = lk.timeline.update + 1;
  const cancelled = (stage: string, error: unknown): HostUpdateCancelled => {
    for (const vm of vmm.vms.values()) if (!vm.running) vm.resume();
    return { outcome: "cancelled", vmm, kernel: lk, update, stage, error };
  };
  let prepare: PrepareReport;
  try {
    prepare = lk.luo.prepare();
  } catch (error) {
    return cancelled("prepare", error);
  }
  for (let turn = 0; turn < (options.brownoutTurns ?? 4); turn++) vmm.step(turnNs);
  if (options.cancelAt === "PREPARED") {
    lk.luo.cancel("cancelled by the operator in brownout");
    return cancelled("PREPARED", undefined);
  }
  vmm.pauseAll();
  let freeze: FreezeReport;
  try {
    freeze = lk.luo.freeze();
  } catch (error) {
    return cancelled("freeze", error);
  }
  if (options.cancelAt === "FROZEN") {
    lk.machine.run(turnNs);
    lk.luo.cancel("cancelled by the operator in blackout");
    return cancelled("FROZEN", undefined);
  }
  const handoff = lk.luo.reboot();
  options.beforeBoot?.(handoff, handoff.machine);
  const { injectFault: _drill, ...inherited } = lk.luo.options;
  const kernel = bootLiveUpdateKernel(handoff.machine, {
    build: handoff.build,
    cmdline: handoff.cmdline,
    ...(handoff.bootData !== undefined ? { bootData: handoff.bootData } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    container: lk.luo.parentContainer,
    luo: options.luo ?? inherited,
  });
  const next = Vmm.resume(kernel, vmm.vms.values());
  next.finishUpdate();
  return { outcome: "updated", vmm: next, kernel, update, prepare, freeze, handoff };
}
