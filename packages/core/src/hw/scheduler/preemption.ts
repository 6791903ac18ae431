/**
 * Every place where software hands the machine its cycles (the devices then run for a quantum of
 * machine time). Hardware defines the names; kernel and LUO code call `Machine.preempt` with them.
 *
 * | Point | Where |
 * | --- | --- |
 * | `luo:between-hooks` | after every hook of every object or FLB (prepare, serialize, freeze, restore, cancel, finish, can-finish, decode, …), so between any two hooks |
 * | `kernel:reboot-stopped` | the old kernel has stopped (reboot participants ran, its interrupt handlers are gone), before memory is poisoned |
 * | `kernel:reboot-poisoned` | every byte nobody preserved has been poisoned, before the new kernel starts |
 * | `kernel:early-boot` | the new kernel's early boot, after `setup_arch` (memblock confined to scratch on a KHO boot) |
 * | `kernel:mm-init` | the new kernel's early boot, after `mm_init` (preserved memory reserved), before the page allocator starts |
 * | `luo:before-adopt` | the new kernel's orchestrator is about to restore the handover (drivers adopt their hardware) |
 * | `luo:after-adopt` | the handover has been restored (drivers adopted their hardware) |
 * | `vmm:idle` | the VMM model idles (`Machine.idle`) |
 * | `vmm:run` | the VMM model lets the machine run for a given time (`Machine.run`) |
 */
export type PreemptionPoint =
  | "luo:between-hooks"
  | "kernel:reboot-stopped"
  | "kernel:reboot-poisoned"
  | "kernel:early-boot"
  | "kernel:mm-init"
  | "luo:before-adopt"
  | "luo:after-adopt"
  | "vmm:idle"
  | "vmm:run";

/** Every {@link PreemptionPoint}, in the order an update reaches them. */
export const PREEMPTION_POINTS: readonly PreemptionPoint[] = Object.freeze([
  "luo:between-hooks",
  "kernel:reboot-stopped",
  "kernel:reboot-poisoned",
  "kernel:early-boot",
  "kernel:mm-init",
  "luo:before-adopt",
  "luo:after-adopt",
  "vmm:idle",
  "vmm:run",
]);
