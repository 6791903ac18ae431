import type { Command } from "commander";
import type { ShippedBuilds } from "../builds/shipped.js";
import { DEFAULT_INSPECT_REGISTRY } from "../inspect/default-registry.js";
import { formatHandoverReport, handoverReportJson } from "../inspect/format.js";
import { inspectHandover } from "../inspect/inspect.js";
import { type CommandIo, reportFailure, toJson } from "../io.js";

/** Registers `liveupdate inspect DIR`. */
export function registerInspect(program: Command, io: CommandIo, builds: readonly ShippedBuilds[]): void {
  program
    .command("inspect")
    .description(
      "read a handover written with --out DIR offline: KHO tree, preserved memory per order and owner, " +
        "LUO sessions, objects and FLBs with their decoded state",
    )
    .argument("<dir>", "directory with handover.dtb, memory.img, boot-data.json, hardware.json")
    .option("--json", "print the inspection as JSON")
    .action((dir: string, options: { json?: boolean }) => {
      try {
        const report = inspectHandover(dir, { ...DEFAULT_INSPECT_REGISTRY, builds });
        io.out(options.json ? toJson(handoverReportJson(report)) : formatHandoverReport(report));
        if (report.problems.length > 0) io.setExitCode(1);
      } catch (error) {
        reportFailure(io, "inspect", error);
      }
    });
}
