import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";
import type { PhysicalMemory } from "./physical-memory.js";

/**
 * Writes a sparse raw memory image: byte offset in the file = physical address. Only sections
 * that hold written data are written; everything else is a hole (reads as zero from the file) —
 * including never-written sections whose fill byte is poison. The file's length is the end of the
 * memory map. Inspect it with standard tools, e.g. `dd`/`xxd` at an offset, or libfdt on the
 * handover FDT at `fdt_addr`.
 *
 * @returns bytes actually written (the image's allocated size, not its apparent size).
 */
export function exportMemoryImage(memory: PhysicalMemory, path: string): number {
  const fd = openSync(path, "w");
  let written = 0;
  try {
    for (const { base, bytes } of memory.backedSections()) {
      written += writeSync(fd, bytes, 0, bytes.length, base);
    }
    ftruncateSync(fd, memory.map.end());
  } finally {
    closeSync(fd);
  }
  return written;
}
