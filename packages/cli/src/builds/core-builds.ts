import { defineKernelBuild } from "@liveupdate/core";
import { allPairs, defineShippedBuilds } from "./shipped.js";

/** The two driverless builds the KHO self-test kexecs between (only the orchestrator's `luo` state). */
export const SELFTEST_BUILDS = defineShippedBuilds({
  name: "core-selftest",
  description: "@liveupdate/core: the builds liveupdate kho-selftest alternates between (no drivers)",
  builds: [
    defineKernelBuild({ version: "6.16.0-selftest-a" }),
    defineKernelBuild({ version: "6.16.0-selftest-b" }),
  ],
  supported: allPairs(["6.16.0-selftest-a", "6.16.0-selftest-b"]),
});
