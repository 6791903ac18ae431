/**
 * `@liveupdate/core` — the liveupdate SDK: emulated hardware, an emulated kernel that boots and
 * kexecs, Kexec HandOver in the kernel's own kho-v1 format, versioned binary schemas, the live
 * update orchestrator, the driver SDK and the testkit.
 *
 * @packageDocumentation
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
