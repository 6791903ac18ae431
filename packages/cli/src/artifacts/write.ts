import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BootData, exportMemoryImage, type Machine } from "@liveupdate/core";
import { ARTIFACT_FILES, type HardwareRegionJson, hexa } from "./files.js";

/**
 * Writes the handover a kernel left in `machine`'s memory — call it after reboot, before the next
 * boot — as {@link ARTIFACT_FILES}: the root FDT, the sparse memory image, the boot data and the
 * memory map. `liveupdate inspect DIR` reads them back.
 *
 * @param dir - created if needed.
 * @param machine - the machine.
 * @param bootData - the handoff's boot data.
 * @param hardware - extra keys for `hardware.json` (device state a tool may want).
 * @returns the paths written, in {@link ARTIFACT_FILES} order.
 */
export function writeHandoverArtifacts(
  dir: string,
  machine: Machine,
  bootData: BootData,
  hardware: Readonly<Record<string, unknown>> = {},
): string[] {
  mkdirSync(dir, { recursive: true });
  const paths = {
    dtb: join(dir, ARTIFACT_FILES.dtb),
    image: join(dir, ARTIFACT_FILES.image),
    bootData: join(dir, ARTIFACT_FILES.bootData),
    hardware: join(dir, ARTIFACT_FILES.hardware),
  };
  const totalSize = new DataView(machine.memory.read(bootData.fdtAddr, 8).buffer).getUint32(4, false);
  writeFileSync(paths.dtb, machine.memory.read(bootData.fdtAddr, totalSize));
  exportMemoryImage(machine.memory, paths.image);
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  writeFileSync(
    paths.bootData,
    json({
      fdt_addr: hexa(bootData.fdtAddr),
      fdt_size: bootData.fdtSize,
      scratch_addr: hexa(bootData.scratchAddr),
      scratch_size: bootData.scratchSize,
      // The kho_scratch array it points at, decoded for readers of the file.
      scratch: Array.from({ length: Math.floor(bootData.scratchSize / 16) }, (_, i) => ({
        addr: hexa(Number(machine.memory.readU64(bootData.scratchAddr + 16 * i))),
        size: hexa(Number(machine.memory.readU64(bootData.scratchAddr + 16 * i + 8))),
      })),
    }),
  );
  const memoryMap: HardwareRegionJson[] = machine.memoryMap.regions.map((r) => ({
    base: hexa(r.base),
    size: hexa(r.size),
    type: r.type,
  }));
  writeFileSync(paths.hardware, json({ memoryMap, ...hardware }));
  return Object.values(paths);
}
