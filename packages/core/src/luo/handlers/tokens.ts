import type { InjectionToken } from "tsyringe";
import type { Machine } from "../../hw/machine.js";
import type { KernelBuild } from "../../kernel/build.js";
import type { Kernel } from "../../kernel/kernel.js";
import type { Kho } from "../../kho/kho.js";
import type { Luo } from "../orchestrator.js";
import type { Timeline } from "../timeline.js";

/**
 * Injection tokens of the per-boot container. Classes (`Kernel`, `Kho`, `Machine`, `Luo`,
 * `Timeline`) can be injected by type directly; the tokens exist for interface-typed values
 * (`KernelBuild`) and for authors who prefer explicit `@inject(TOKEN)`.
 *
 * @example
 * ```ts
 * @LiveUpdateDriver({ schema })
 * class MyDriver {
 *   constructor(@inject(KERNEL_BUILD) readonly build: KernelBuild, readonly kho: Kho) {}
 * }
 * ```
 */
export const KERNEL_BUILD: InjectionToken<KernelBuild> = Symbol.for("liveupdate:KernelBuild");

/** Token of the running {@link Kernel} (same instance as injecting the class). */
export const KERNEL: InjectionToken<Kernel> = Symbol.for("liveupdate:Kernel");

/** Token of this boot's {@link Kho}. */
export const KHO: InjectionToken<Kho> = Symbol.for("liveupdate:Kho");

/** Token of the {@link Machine}. */
export const MACHINE: InjectionToken<Machine> = Symbol.for("liveupdate:Machine");

/** Token of this boot's orchestrator ({@link Luo}). */
export const LUO: InjectionToken<Luo> = Symbol.for("liveupdate:Luo");

/** Token of the machine's {@link Timeline}. */
export const TIMELINE: InjectionToken<Timeline> = Symbol.for("liveupdate:Timeline");
