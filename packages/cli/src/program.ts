import { Command } from "commander";

/**
 * Builds the `liveupdate` command with all its subcommands. Exposed so tests (and embedders) can
 * run the CLI in-process with their own output streams.
 */
export function buildProgram(): Command {
  const program = new Command("liveupdate").description(
    "Run live update scenarios (KHO/LUO) on an emulated machine",
  );
  return program;
}
