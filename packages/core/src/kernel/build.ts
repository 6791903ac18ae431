import { MiB } from "../hw/units.js";

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
}): KernelBuild {
  return Object.freeze({
    version: build.version,
    drivers: Object.freeze([...(build.drivers ?? [])]),
    imageSize: build.imageSize ?? DEFAULT_KERNEL_IMAGE_SIZE,
  });
}
