/**
 * `@liveupdate/cli` — the `liveupdate` command. Run `liveupdate --help` for its subcommands.
 *
 * @packageDocumentation
 */
export type { CommandIo } from "./commands/kho-selftest.js";
export { buildProgram } from "./program.js";
export { SelftestVerificationError } from "./selftest/errors.js";
export { formatSelftestReport } from "./selftest/format.js";
export {
  type KhoSelftestOptions,
  type KhoSelftestReport,
  runKhoSelftest,
  type SelftestHop,
} from "./selftest/kho-selftest.js";
