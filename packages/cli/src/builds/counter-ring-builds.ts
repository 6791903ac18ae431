import { defineKernelBuild } from "@liveupdate/core";
import { withCatalog, withNative } from "@liveupdate/core/testkit";
import { CounterRingDriver } from "@liveupdate/example-counter-ring";
import { defineShippedBuilds } from "./shipped.js";

/**
 * Three generations of the counter-ring example: v1 only, v1 and v2 (native v2), v2 only. Each
 * neighbour pair updates both ways; the outer pair has no common version (refused, and not declared
 * supported) — the matrix shows that compatibility is not transitive.
 */
export const COUNTER_RING_BUILDS = defineShippedBuilds({
  name: "counter-ring",
  description: "@liveupdate/example-counter-ring: a driver whose state went from v1 to v2",
  builds: [
    defineKernelBuild({ version: "6.17.0-cr1", drivers: [withNative(CounterRingDriver, 1)] }),
    defineKernelBuild({ version: "6.18.0-cr2", drivers: [CounterRingDriver] }),
    defineKernelBuild({
      version: "6.19.0-cr2only",
      drivers: [withCatalog(CounterRingDriver, { writes: [2], reads: [2] })],
    }),
  ],
  supported: [
    { from: "6.17.0-cr1", to: "6.18.0-cr2" },
    { from: "6.18.0-cr2", to: "6.17.0-cr1" },
    { from: "6.18.0-cr2", to: "6.19.0-cr2only" },
    { from: "6.19.0-cr2only", to: "6.18.0-cr2" },
  ],
});
