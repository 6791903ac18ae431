import { SHIPPED_BUILDS } from "../builds/registry.js";
import { COUNTER_RING_DECODER } from "./decoders/counter-ring.js";
import { KHO_TEST_DECODER } from "./decoders/kho-test.js";
import { LUO_DECODER } from "./decoders/luo.js";
import type { InspectRegistry } from "./registry.js";

/**
 * What `liveupdate inspect` decodes by default: the shipped builds' schemas, the `luo` and
 * `kho_test` subtrees, the counter-ring example's rings. A driver package adds its decoders here
 * (an iommufd decoder showing domains and table pages, for one).
 */
export const DEFAULT_INSPECT_REGISTRY: InspectRegistry = Object.freeze({
  builds: SHIPPED_BUILDS,
  subtrees: Object.freeze([LUO_DECODER, KHO_TEST_DECODER]),
  objects: Object.freeze([COUNTER_RING_DECODER]),
});
