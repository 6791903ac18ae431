import type { DependencyContainer } from "tsyringe";
import type { Machine } from "../hw/machine.js";
import type { KernelBuild } from "../kernel/build.js";
import type { Kernel } from "../kernel/kernel.js";
import { type BootKernelOptions, bootKernel, type Kho } from "../kho/kho.js";
import type { DriverClass } from "./handlers/types.js";
import { Luo, type LuoOptions } from "./orchestrator.js";
import type { Timeline } from "./timeline.js";

/** Options of {@link bootLiveUpdateKernel}: the kernel's boot options plus DI and orchestrator settings. */
export interface LiveUpdateBootOptions extends BootKernelOptions {
  /** Parent of the per-boot container (default: tsyringe's root container). */
  readonly container?: DependencyContainer;
  /** Orchestrator settings. */
  readonly luo?: LuoOptions;
}

/** A booted kernel with KHO, its orchestrator and its drivers: the one entry point for callers and the testkit. */
export interface LiveUpdateKernel {
  /** The machine. */
  readonly machine: Machine;
  /** The kernel. */
  readonly kernel: Kernel;
  /** Its KHO. */
  readonly kho: Kho;
  /** Its orchestrator. */
  readonly luo: Luo;
  /** Its per-boot DI container. */
  readonly container: DependencyContainer;
  /** The running build. */
  readonly build: KernelBuild;
  /** The machine's timeline. */
  readonly timeline: Timeline;
  /** The instance of a driver (or FLB) class of the build (kernel-bound). */
  driver<T>(cls: DriverClass<T>): T;
}

/**
 * Boots a kernel with everything live update needs: KHO in early boot (`bootKernel`), a fresh
 * per-boot DI container with every driver and FLB of the build resolved (dependency-checked), and
 * the orchestrator. On a handover boot the preserved objects are restored before this returns
 * (phase UPDATED).
 *
 * @param machine - the machine.
 * @param options - build, command line (default `"kho=on"`), boot data, seed, poisoning, container, LUO settings.
 * @throws driver declaration/graph errors for an invalid build; `LuoRestoreAbortedError` or
 *   `LuoHandoverCorruptError` when the handover cannot be restored (the update fails loudly).
 * @example
 * ```ts
 * const machine = new Machine({ memory: "2G" });
 * const lk = bootLiveUpdateKernel(machine, { build: v1 });
 * lk.luo.createSession("vm").preserve(1, lk.driver(CounterDriver).create());
 * const next = kexecIntoNext(lk, { build: v2 });
 * ```
 */
export function bootLiveUpdateKernel(machine: Machine, options: LiveUpdateBootOptions): LiveUpdateKernel {
  const { container, luo: luoOptions, ...bootOptions } = options;
  const { kernel, kho } = bootKernel(machine, bootOptions);
  let luo: Luo;
  try {
    luo = new Luo({
      machine,
      kernel,
      kho,
      ...(container !== undefined ? { container } : {}),
      ...(luoOptions !== undefined ? { options: luoOptions } : {}),
    });
  } catch (error) {
    // Upstream panics when a handover cannot be restored under the `abort` policy; the machine then
    // needs a cold boot. Any boot-time failure leaves no half-initialised kernel running.
    kernel.panic(error instanceof Error ? error.message : String(error));
    throw error;
  }
  return {
    machine,
    kernel,
    kho,
    luo,
    container: luo.container,
    build: kernel.build,
    timeline: luo.timeline,
    driver: <T>(cls: DriverClass<T>): T => luo.driver(cls),
  };
}

/** Options of {@link kexecIntoNext}. */
export interface KexecIntoNextOptions {
  /** Build to kexec-load first (default: the one already loaded). */
  readonly build?: KernelBuild;
  /** Command line of the next kernel (default: the running one's). */
  readonly cmdline?: string;
  /** Seed of the next boot. */
  readonly seed?: number;
  /** Whether the next kernel poisons unpreserved memory when it reboots in turn (default true). */
  readonly poisonOnReboot?: boolean;
  /** Parent container of the next boot (default: the current boot's parent container). */
  readonly container?: DependencyContainer;
  /** Orchestrator settings of the next boot (default: the current boot's). */
  readonly luo?: LuoOptions;
}

/**
 * One live update: kexec-loads `options.build` (if given), prepares, freezes and reboots the
 * current kernel (`luo.reboot()`), then boots the next one with {@link bootLiveUpdateKernel}, which
 * restores the preserved objects.
 *
 * @param current - the running live-update kernel.
 * @param options - target build and next boot's options.
 * @throws what `Luo.prepare`, `Luo.freeze` and {@link bootLiveUpdateKernel} throw; a failure
 *   before the reboot leaves `current` in NORMAL with every object intact.
 */
export function kexecIntoNext(
  current: LiveUpdateKernel,
  options: KexecIntoNextOptions = {},
): LiveUpdateKernel {
  if (options.build !== undefined) {
    current.kernel.kexecLoad(
      options.build,
      options.cmdline !== undefined ? { cmdline: options.cmdline } : {},
    );
  }
  const handoff = current.luo.reboot();
  return bootLiveUpdateKernel(handoff.machine, {
    build: handoff.build,
    cmdline: handoff.cmdline,
    ...(handoff.bootData !== undefined ? { bootData: handoff.bootData } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.poisonOnReboot !== undefined ? { poisonOnReboot: options.poisonOnReboot } : {}),
    container: options.container ?? current.luo.parentContainer,
    luo: options.luo ?? current.luo.options,
  });
}
