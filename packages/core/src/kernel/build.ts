import { MiB } from "../hw/units.js";
import { type CarveOutSpec, carveOutsOf } from "./carve-out.js";

/**
 * A kernel build: what is being kexec'd into. Two builds differ in version string and in the set
 * of drivers (and, through them, the handover formats they can read and write).
 *
 * `drivers` holds driver declarations (classes decorated by the driver SDK); the kernel itself
 * treats them as opaque.
 */
export interface KernelBuild {
  /** Version string, e.g. `"6.16.0-lu1"`. */
  readonly version: string;
  /** Driver classes compiled into this build. */
  readonly drivers: readonly KernelBuildDriver[];
  /** Size of the kernel image in memory (text, data, bss); defaults to 32 MiB. */
  readonly imageSize?: number;
  /**
   * Boot-time carve-outs the build reserves (its own and those its drivers declared with
   * `declareCarveOut`), in placement order.
   */
  readonly carveOuts?: readonly CarveOutSpec[];
  /** Built-in command line (`CONFIG_CMDLINE`); the boot's command line overrides it. */
  readonly cmdline?: string;
}

/** Any class: a driver compiled into a {@link KernelBuild}. */
export type KernelBuildDriver = abstract new (...args: never[]) => unknown;

/** Default {@link KernelBuild.imageSize}. */
export const DEFAULT_KERNEL_IMAGE_SIZE = 32 * MiB;

/**
 * Declares a kernel build.
 *
 * @example
 * ```ts
 * const v1 = defineKernelBuild({ version: "6.16.0", drivers: [] });
 * ```
 */
export function defineKernelBuild(build: {
  version: string;
  drivers?: readonly KernelBuildDriver[];
  imageSize?: number;
  carveOuts?: readonly CarveOutSpec[];
  cmdline?: string;
}): KernelBuild {
  const drivers = build.drivers ?? [];
  // A carve-out declared by several drivers of the build (or a driver listed twice) is reserved once.
  const carveOuts = new Map<string, CarveOutSpec>();
  for (const spec of [...(build.carveOuts ?? []), ...drivers.flatMap((d) => carveOutsOf(d))]) {
    if (!carveOuts.has(spec.label)) carveOuts.set(spec.label, spec);
  }
  return Object.freeze({
    version: build.version,
    drivers: Object.freeze([...drivers]),
    imageSize: build.imageSize ?? DEFAULT_KERNEL_IMAGE_SIZE,
    carveOuts: Object.freeze([...carveOuts.values()]),
    ...(build.cmdline !== undefined ? { cmdline: build.cmdline } : {}),
  });
}
