import { Command } from "commander";
import { type CommandIo, registerKhoSelftest } from "./commands/kho-selftest.js";

const processIo: CommandIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

/**
 * Builds the `liveupdate` command with all its subcommands. Tests (and embedders) pass their own
 * {@link CommandIo} to capture output.
 */
export function buildProgram(io: CommandIo = processIo): Command {
  const program = new Command("liveupdate")
    .description("Run live update scenarios (KHO/LUO) on an emulated machine")
    .showHelpAfterError();
  registerKhoSelftest(program, io);
  return program;
}
