import { defineKernelBuild } from "@liveupdate/core";
import { withNative } from "@liveupdate/core/testkit";
import { IommufdDriver } from "@liveupdate/drivers-iommufd";
import { VfioPciDriver } from "@liveupdate/drivers-vfio";
import { GuestmemfsDriver } from "@liveupdate/guestmemfs";
import { allPairs, defineShippedBuilds } from "./shipped.js";

/** Version of build A: guestmemfs and vfio-pci at their first versions, iommufd at v2 (vIOMMU). */
export const VMM_BUILD_A = "6.18.0-lu-a";
/** Version of build B: every driver at its newest version. */
export const VMM_BUILD_B = "6.19.0-lu-b";

/**
 * The two host kernels `liveupdate demo` updates between. Build B's guestmemfs (seals and flags)
 * and vfio-pci (per-vector masks) write newer schema versions than build A's, so A → B upgrades
 * two drivers' state on the way in and B → A downgrades it on the way out — refused, naming the
 * field, when a guest masked a vector. iommufd is at v2 in both: v1 cannot express a vIOMMU.
 */
export const VMM_BUILDS = defineShippedBuilds({
  name: "vmm",
  description: "the demo's host kernels: guestmemfs, iommufd (vIOMMU) and vfio-pci under running VMs",
  builds: [
    defineKernelBuild({
      version: VMM_BUILD_A,
      drivers: [withNative(GuestmemfsDriver, 1), IommufdDriver, withNative(VfioPciDriver, 1)],
    }),
    defineKernelBuild({ version: VMM_BUILD_B, drivers: [GuestmemfsDriver, IommufdDriver, VfioPciDriver] }),
  ],
  supported: allPairs([VMM_BUILD_A, VMM_BUILD_B]),
});
