import type { Command } from "commander";
import type { ShippedBuilds } from "../builds/shipped.js";
import { type CommandIo, toJson } from "../io.js";
import { formatShippedMatrix } from "../matrix/format.js";
import { shippedMatrix } from "../matrix/shipped-matrix.js";

/** Registers `liveupdate matrix`. */
export function registerMatrix(program: Command, io: CommandIo, shipped: readonly ShippedBuilds[]): void {
  const names = shipped.map((s) => s.name).join(", ");
  program
    .command("matrix")
    .description(
      "compatibility matrix of every driver across the kernel builds that ship in the repository; " +
        "fails when an update the builds declare supported is refused",
    )
    .option("--set <name>", `only one set of builds (${names})`)
    .option("--allow-lossy", "accept lossy down-migrations (refused by default)")
    .option("--json", "print the matrix as JSON")
    .action((options: { set?: string; allowLossy?: boolean; json?: boolean }) => {
      const sets = options.set === undefined ? shipped : shipped.filter((s) => s.name === options.set);
      if (sets.length === 0) {
        io.err(`matrix: no set of builds named "${options.set}" (known: ${names})\n`);
        io.setExitCode(2);
        return;
      }
      const matrix = shippedMatrix({ sets, ...(options.allowLossy ? { policy: { allowLossy: true } } : {}) });
      io.out(options.json ? toJson(matrix) : formatShippedMatrix(matrix));
      if (matrix.refusedSupported.length > 0) io.setExitCode(1);
    });
}
