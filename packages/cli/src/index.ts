/**
 * `@liveupdate/cli` — the `liveupdate` command. Run `liveupdate --help` for its subcommands.
 *
 * @packageDocumentation
 */
export { SELFTEST_BUILDS } from "./builds/core-builds.js";
export { COUNTER_RING_BUILDS } from "./builds/counter-ring-builds.js";
export { SHIPPED_BUILDS, shippedKernelBuilds } from "./builds/registry.js";
export { allPairs, type BuildPair, defineShippedBuilds, type ShippedBuilds } from "./builds/shipped.js";
export { InspectInputError, ShippedBuildsInvalidError } from "./errors.js";
export { type CommandIo, reportFailure, toJson } from "./io.js";
export { formatShippedMatrix } from "./matrix/format.js";
export {
  type PathKind,
  type ShippedMatrix,
  type ShippedMatrixCell,
  type ShippedMatrixOptions,
  type ShippedMatrixPair,
  type ShippedMatrixSet,
  shippedMatrix,
} from "./matrix/shipped-matrix.js";
export { buildProgram, type ProgramOptions } from "./program.js";
export { SelftestVerificationError } from "./selftest/errors.js";
export { formatSelftestReport } from "./selftest/format.js";
export {
  type KhoSelftestOptions,
  type KhoSelftestReport,
  runKhoSelftest,
  type SelftestHop,
} from "./selftest/kho-selftest.js";
