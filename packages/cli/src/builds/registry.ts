import type { KernelBuild } from "@liveupdate/core";
import { SELFTEST_BUILDS } from "./core-builds.js";
import { COUNTER_RING_BUILDS } from "./counter-ring-builds.js";
import type { ShippedBuilds } from "./shipped.js";
import { VMM_BUILDS } from "./vmm-builds.js";

/**
 * Every set of kernel builds that ships in the repository. A driver package that ships builds
 * exports a {@link ShippedBuilds} (made with `defineShippedBuilds`) and is listed here; `matrix`
 * and `inspect` then know its drivers.
 */
export const SHIPPED_BUILDS: readonly ShippedBuilds[] = Object.freeze([
  SELFTEST_BUILDS,
  COUNTER_RING_BUILDS,
  VMM_BUILDS,
]);

/** Every shipped build, set by set. */
export function shippedKernelBuilds(sets: readonly ShippedBuilds[] = SHIPPED_BUILDS): KernelBuild[] {
  return sets.flatMap((set) => set.builds);
}
