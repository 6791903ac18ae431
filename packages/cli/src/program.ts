import { Command } from "commander";
import { SHIPPED_BUILDS } from "./builds/registry.js";
import type { ShippedBuilds } from "./builds/shipped.js";
import { registerDemo } from "./commands/demo.js";
import { registerInspect } from "./commands/inspect.js";
import { registerKhoSelftest } from "./commands/kho-selftest.js";
import { registerMatrix } from "./commands/matrix.js";
import type { CommandIo } from "./io.js";

const processIo: CommandIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code;
  },
  isTTY: process.stdout.isTTY === true,
  progressStream: process.stderr,
};

/** What the commands work on, for embedders and tests. */
export interface ProgramOptions {
  /** The sets of kernel builds `matrix` and `inspect` know (default: {@link SHIPPED_BUILDS}). */
  readonly builds?: readonly ShippedBuilds[];
}

/**
 * Builds the `liveupdate` command with all its subcommands. Tests (and embedders) pass their own
 * {@link CommandIo} to capture output, and their own builds.
 */
export function buildProgram(io: CommandIo = processIo, options: ProgramOptions = {}): Command {
  const builds = options.builds ?? SHIPPED_BUILDS;
  const program = new Command("liveupdate")
    .description("Run live update scenarios (KHO/LUO) on an emulated machine")
    .showHelpAfterError();
  registerDemo(program, io);
  registerKhoSelftest(program, io);
  registerInspect(program, io, builds);
  registerMatrix(program, io, builds);
  return program;
}
