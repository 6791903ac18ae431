import { LiveUpdateError } from "@liveupdate/core";
import { type Command, InvalidArgumentError } from "commander";
import { formatSelftestReport } from "../selftest/format.js";
import { runKhoSelftest } from "../selftest/kho-selftest.js";

/** Where command output goes; tests pass their own. */
export interface CommandIo {
  /** Standard output. */
  out(text: string): void;
  /** Standard error. */
  err(text: string): void;
  /** Sets the process exit code. */
  setExitCode(code: number): void;
}

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer in ${min}..${max}`);
    return n;
  };
}

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
    .option("--out <dir>", "write handover.dtb, memory.img, boot-data.json, preserved.json")
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
        try {
          const report = runKhoSelftest({
            memory: options.memory,
            seed: options.seed,
            folios: options.folios,
            maxOrder: options.maxOrder,
            kexecs: options.kexecs,
            poison: options.poison,
            ...(options.out !== undefined ? { outDir: options.out } : {}),
          });
          io.out(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatSelftestReport(report));
        } catch (error) {
          if (!(error instanceof LiveUpdateError)) throw error;
          io.err(
            `KHO self-test: FAIL\n  ${error.code}: ${error.message}\n  ${JSON.stringify(error.context, bigintJson)}\n`,
          );
          io.setExitCode(1);
        }
      },
    );
}

function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? `0x${value.toString(16)}` : value;
}
