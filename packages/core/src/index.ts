/**
 * `@liveupdate/core`'s root: everything of the SDK is imported from here (the reference lists it by
 * layer, in the modules above), plus what every layer shares — {@link LiveUpdateError}, the base of
 * every typed error, ABI assertions and the seeded PRNG.
 *
 * @module common
 */
import "reflect-metadata";

export { AbiDriftError, assertAbi, hex, LiveUpdateError } from "./common/errors.js";
export { Prng } from "./common/prng.js";
export * from "./driver/index.js";
export * from "./hw/index.js";
export * from "./kernel/index.js";
export * from "./kho/index.js";
export * from "./luo/index.js";
export * from "./schema/index.js";
