import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { writeHandoverArtifacts } from "../artifacts/write.js";
import { formatDemoReport } from "../demo/format.js";
import { demoHardwareJson } from "../demo/hardware.js";
import { FAIL_AT_HOOKS } from "../demo/options.js";
import { runDemo } from "../demo/scenario.js";
import { type CommandIo, reportFailure, toJson } from "../io.js";
import { progressFor } from "../progress/progress.js";
import { renderHtmlReport } from "../report-html/render.js";
import { integer } from "./parse.js";

/** Options of `liveupdate demo` as commander parses them. */
interface DemoCommandOptions {
  seed: number;
  vms: number;
  memory: string;
  vmMemory: string;
  from?: string;
  to?: string;
  updates: number;
  failAt?: string;
  out?: string;
  report?: string;
  json?: boolean;
}

/** Registers `liveupdate demo`, the product's main job. */
export function registerDemo(program: Command, io: CommandIo): void {
  program
    .command("demo")
    .description(
      "live-update a host under running VMs (guestmemfs RAM, iommufd, vfio DMA engines, a vIOMMU) and verify nothing was lost",
    )
    .option("--seed <n>", "random seed", integer(0, 2 ** 32 - 1), 1)
    .option("--vms <n>", "VMs (the last one has a vIOMMU)", integer(1, 28), 3)
    .option("--memory <size>", "host RAM", "64G")
    .option("--vm-memory <size>", "RAM per VM", "8G")
    .option("--from <build>", "build to boot first (default 6.18.0-lu-a)")
    .option("--to <build>", "build to update to (default 6.19.0-lu-b); a chain alternates between the two")
    .option("--updates <n>", "consecutive updates", integer(1, 100), 1)
    .option("--fail-at <hook>", `make a hook of the old kernel fail (${FAIL_AT_HOOKS.join(", ")}[:<driver>])`)
    .option("--out <dir>", "write report.json, handover.dtb, memory.img, boot-data.json, hardware.json")
    .option(
      "--report <file.html>",
      "write the report as one self-contained HTML file (timeline, versions, checks)",
    )
    .option("--json", "print the report as JSON")
    .action((options: DemoCommandOptions) => {
      const progress = progressFor(io, options);
      const files: string[] = [];
      try {
        const run = runDemo({
          seed: options.seed,
          vms: options.vms,
          memory: options.memory,
          vmMemory: options.vmMemory,
          updates: options.updates,
          ...(options.from !== undefined ? { from: options.from } : {}),
          ...(options.to !== undefined ? { to: options.to } : {}),
          ...(options.failAt !== undefined ? { failAt: options.failAt } : {}),
          onProgress: (event) => progress.update(event),
          onHandoff: (machine, bootData) => {
            // The handover as the new kernel receives it; hardware.json is written after the run.
            if (options.out !== undefined)
              files.push(...writeHandoverArtifacts(options.out, machine, bootData));
          },
        });
        progress.stop();
        if (options.out !== undefined) {
          const report = join(options.out, "report.json");
          writeFileSync(report, toJson(run.report));
          const hardware = join(options.out, "hardware.json");
          writeFileSync(hardware, toJson(demoHardwareJson(run.machine, run.vmm)));
          files.unshift(report);
          if (!files.includes(hardware)) files.push(hardware);
        }
        if (options.report !== undefined) {
          writeFileSync(options.report, renderHtmlReport(run.report));
          files.push(options.report);
        }
        io.out(options.json ? toJson(run.report) : formatDemoReport(run.report, files));
        if (run.report.result !== "PASS") io.setExitCode(1);
      } catch (error) {
        progress.stop();
        reportFailure(io, "liveupdate demo", error);
      }
    });
}
