import { SHIPPED_BUILDS } from "../builds/registry.js";
import { COUNTER_RING_DECODER } from "./decoders/counter-ring.js";
import { GUESTMEMFS_DECODER } from "./decoders/guestmemfs.js";
import { IOMMUFD_DECODER } from "./decoders/iommufd.js";
import { KHO_TEST_DECODER } from "./decoders/kho-test.js";
import { LUO_DECODER } from "./decoders/luo.js";
import { VFIO_PCI_DECODER } from "./decoders/vfio-pci.js";
import type { InspectRegistry } from "./registry.js";

/**
 * What `liveupdate inspect` decodes by default: the shipped builds' schemas, the `luo` and
 * `kho_test` subtrees, the counter-ring example's rings, guestmemfs files (their data extents),
 * iommufd contexts (domains and their table pages, walked in the image) and vfio-pci devices.
 */
export const DEFAULT_INSPECT_REGISTRY: InspectRegistry = Object.freeze({
  builds: SHIPPED_BUILDS,
  subtrees: Object.freeze([LUO_DECODER, KHO_TEST_DECODER]),
  objects: Object.freeze([COUNTER_RING_DECODER, GUESTMEMFS_DECODER, IOMMUFD_DECODER, VFIO_PCI_DECODER]),
});
