import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  type BootData,
  LiveUpdateError,
  MemoryMap,
  type MemoryRegion,
  openMemoryImage,
  type PhysicalMemory,
} from "@liveupdate/core";
import { InspectInputError } from "../errors.js";
import { ARTIFACT_FILES } from "./files.js";

/** What {@link readHandoverArtifacts} found in a directory. */
export interface HandoverArtifacts {
  /** The directory. */
  readonly dir: string;
  /** The machine's memory map. */
  readonly memoryMap: MemoryMap;
  /** Where the memory map came from (`hardware.json`, or inferred from the image size). */
  readonly memoryMapSource: string;
  /** The boot data. */
  readonly bootData: BootData;
  /** The memory image, read lazily. */
  readonly memory: PhysicalMemory;
  /** `handover.dtb`, when present. */
  readonly dtb?: Uint8Array;
}

const GiB = 1024 ** 3;

function readJson(path: string, file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new InspectInputError(file, "cannot be read", {}, cause);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new TypeError("not an object");
    return value as Record<string, unknown>;
  } catch (cause) {
    throw new InspectInputError(file, "is not a JSON object", {}, cause);
  }
}

/** A non-negative safe integer from a number or a `0x…`/decimal string. */
function integer(file: string, field: string, value: unknown): number {
  const n =
    typeof value === "number"
      ? value
      : typeof value === "string" && value.trim() !== ""
        ? Number(value)
        : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new InspectInputError(file, `${field} is not a non-negative integer`, { field, value });
  }
  return n;
}

function bootDataFrom(file: string, json: Record<string, unknown>): BootData {
  return {
    fdtAddr: integer(file, "fdt_addr", json.fdt_addr),
    fdtSize: integer(file, "fdt_size", json.fdt_size),
    scratchAddr: integer(file, "scratch_addr", json.scratch_addr),
    scratchSize: integer(file, "scratch_size", json.scratch_size),
  };
}

function memoryMapFrom(file: string, regions: unknown): MemoryMap {
  if (!Array.isArray(regions))
    throw new InspectInputError(file, "memoryMap is not an array", { field: "memoryMap" });
  const parsed: MemoryRegion[] = regions.map((r: Record<string, unknown>, i) => {
    const type = r?.type;
    if (type !== "ram" && type !== "reserved") {
      throw new InspectInputError(file, `memoryMap[${i}].type is not "ram" or "reserved"`, {
        field: `memoryMap[${i}].type`,
        value: type,
      });
    }
    return {
      base: integer(file, `memoryMap[${i}].base`, r.base),
      size: integer(file, `memoryMap[${i}].size`, r.size),
      type,
    };
  });
  try {
    return new MemoryMap(parsed);
  } catch (cause) {
    if (!(cause instanceof LiveUpdateError)) throw cause;
    throw new InspectInputError(
      file,
      `memoryMap is invalid: ${cause.message}`,
      { field: "memoryMap" },
      cause,
    );
  }
}

/**
 * The standard x86 layout whose end is `imageSize` (`exportMemoryImage` makes the image as long as
 * the map): RAM up to 3 GiB, then from 4 GiB on.
 */
function inferMemoryMap(imageSize: number): MemoryMap {
  const ram = imageSize <= 3 * GiB ? imageSize : imageSize - GiB;
  try {
    return MemoryMap.standardX86(ram);
  } catch (cause) {
    throw new InspectInputError(
      ARTIFACT_FILES.image,
      "its size is not that of a standard x86 machine; give hardware.json",
      { size: imageSize },
      cause,
    );
  }
}

/**
 * Reads the artifacts of {@link ARTIFACT_FILES} from `dir`: the memory map from `hardware.json`
 * (or, for directories written before it existed, the standard x86 layout the image size implies),
 * the boot data from `boot-data.json` (or a `bootData` object in `hardware.json`), and the memory
 * image, opened lazily.
 *
 * @throws {@link InspectInputError} naming the file and field; `HW_BAD_MEMORY_IMAGE` for an image
 *   that does not fit the memory map.
 */
export function readHandoverArtifacts(dir: string): HandoverArtifacts {
  const path = (file: string) => join(dir, file);
  const imagePath = path(ARTIFACT_FILES.image);
  if (!existsSync(imagePath)) throw new InspectInputError(ARTIFACT_FILES.image, `missing in ${dir}`);
  const hardware = existsSync(path(ARTIFACT_FILES.hardware))
    ? readJson(path(ARTIFACT_FILES.hardware), ARTIFACT_FILES.hardware)
    : undefined;
  let memoryMap: MemoryMap;
  let memoryMapSource: string;
  if (hardware?.memoryMap !== undefined) {
    memoryMap = memoryMapFrom(ARTIFACT_FILES.hardware, hardware.memoryMap);
    memoryMapSource = ARTIFACT_FILES.hardware;
  } else {
    memoryMap = inferMemoryMap(statSync(imagePath).size);
    memoryMapSource = `standard x86 layout inferred from the size of ${ARTIFACT_FILES.image}`;
  }
  let bootData: BootData;
  if (existsSync(path(ARTIFACT_FILES.bootData))) {
    bootData = bootDataFrom(
      ARTIFACT_FILES.bootData,
      readJson(path(ARTIFACT_FILES.bootData), ARTIFACT_FILES.bootData),
    );
  } else if (typeof hardware?.bootData === "object" && hardware.bootData !== null) {
    bootData = bootDataFrom(ARTIFACT_FILES.hardware, hardware.bootData as Record<string, unknown>);
  } else {
    throw new InspectInputError(
      ARTIFACT_FILES.bootData,
      `missing in ${dir} (and hardware.json has no bootData)`,
    );
  }
  const memory = openMemoryImage(imagePath, memoryMap);
  const dtbPath = path(ARTIFACT_FILES.dtb);
  const dtb = existsSync(dtbPath) ? new Uint8Array(readFileSync(dtbPath)) : undefined;
  return { dir, memoryMap, memoryMapSource, bootData, memory, ...(dtb === undefined ? {} : { dtb }) };
}
