/**
 * `@liveupdate/cli` — the `liveupdate` command. Run `liveupdate --help` for its subcommands.
 *
 * @packageDocumentation
 */
export { buildProgram } from "./program.js";
