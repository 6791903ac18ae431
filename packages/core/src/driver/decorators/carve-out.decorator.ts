import { type CarveOutSpec, declareCarveOut } from "../../kernel/carve-out.js";

/**
 * Class decorator: the driver needs a boot-time carve-out (memory taken out of RAM before the page
 * allocator starts, reserved in memblock under `spec.label`, placed at the same address by every
 * kernel given the same size). Kernel builds listing the driver reserve it; the driver finds its
 * range with `kernel.carveOut(spec.label)`. The size comes from the command line
 * (`<param>=<size>[@<base>]`), else from `spec.defaultSize`.
 *
 * @param spec - label, command-line parameter, alignment, default size.
 * @example
 * ```ts
 * @CarveOut({ label: "guestmemfs", defaultSize: "64M" })
 * @LiveUpdateDriver({ schema: GuestmemfsFileSchema })
 * class GuestmemfsDriver { ... }
 * ```
 */
export function CarveOut(spec: CarveOutSpec): ClassDecorator {
  return (target) => {
    declareCarveOut(target, spec);
  };
}
