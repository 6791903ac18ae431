import type { Command } from "commander";
import { type CommandIo, reportFailure, toJson } from "../io.js";
import { progressFor } from "../progress/progress.js";
import { formatSelftestReport } from "../selftest/format.js";
import { runKhoSelftest } from "../selftest/kho-selftest.js";
import { integer } from "./parse.js";

/** Registers `liveupdate kho-selftest`. */
export function registerKhoSelftest(program: Command, io: CommandIo): void {
  program
    .command("kho-selftest")
    .description(
      "preserve random folios through KHO, kexec, restore and verify every byte (like lib/test_kho.c)",
    )
    .option("--memory <size>", "RAM of the emulated machine", "4G")
    .option("--seed <n>", "random seed", integer(0, 2 ** 32 - 1), 1)
    .option("--folios <n>", "number of folios", integer(1, 1_000_000), 256)
    .option("--max-order <n>", "highest folio order", integer(0, 10), 10)
    .option("--kexecs <n>", "consecutive kexecs", integer(1, 100), 1)
    .option("--no-poison", "do not poison non-preserved memory at reboot")
    .option(
      "--out <dir>",
      "write handover.dtb, memory.img, boot-data.json, hardware.json, preserved.json (liveupdate inspect reads them)",
    )
    .option("--json", "print the report as JSON")
    .action(
      (options: {
        memory: string;
        seed: number;
        folios: number;
        maxOrder: number;
        kexecs: number;
        poison: boolean;
        out?: string;
        json?: boolean;
      }) => {
        const progress = progressFor(io, options);
        try {
          const report = runKhoSelftest({
            onProgress: (event) => progress.update(event),
            memory: options.memory,
            seed: options.seed,
            folios: options.folios,
            maxOrder: options.maxOrder,
            kexecs: options.kexecs,
            poison: options.poison,
            ...(options.out !== undefined ? { outDir: options.out } : {}),
          });
          progress.stop();
          io.out(options.json ? toJson(report) : formatSelftestReport(report));
        } catch (error) {
          progress.stop();
          reportFailure(io, "KHO self-test", error);
        }
      },
    );
}
