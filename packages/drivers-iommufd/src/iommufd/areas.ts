import { hex } from "@liveupdate/core";
import type { GuestmemFile } from "@liveupdate/guestmemfs";
import {
  IOMMU_IOAS_MAP_ALL,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITABLE,
  IOVA_LIMIT,
  SMALL_PAGE,
} from "../abi.js";
import { IommufdInvalidArgumentError } from "../errors.js";
import type { SecondStageTable } from "../vtd/second-stage.js";
import type { Hwpt, IovaArea } from "./objects.js";

/** True for a non-negative safe integer multiple of 4 KiB. */
export function pageAligned(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n % SMALL_PAGE === 0;
}

/**
 * Checks the arguments of a map request (`EINVAL`): 4 KiB-aligned IOVA, offset and length, the
 * range below 2^48 and inside the file, known flags.
 */
export function checkMapRequest(
  iova: number,
  file: GuestmemFile,
  offset: number,
  length: number,
  flags: number,
): void {
  const where = { iova: hex(Number(iova)), offset, length, flags, file: file.name };
  const bad = (why: string): never => {
    throw new IommufdInvalidArgumentError(`cannot map ${length} bytes at IOVA ${hex(iova)}: ${why}`, where);
  };
  if (!pageAligned(iova) || !pageAligned(offset) || !pageAligned(length) || length === 0)
    bad("IOVA, offset and length must be 4 KiB aligned and the length non-zero");
  if (iova + length > IOVA_LIMIT) bad("the range ends beyond the 48-bit IOVA space");
  if (!Number.isInteger(flags) || (flags & ~IOMMU_IOAS_MAP_ALL) !== 0 || flags === 0)
    bad("flags must be IOMMU_IOAS_MAP_READABLE and/or IOMMU_IOAS_MAP_WRITABLE");
  if (offset + length > file.size) bad(`the file is ${file.size} bytes`);
}

/** Writes `area` into one domain's tables, extent run by extent run. */
export function mapArea(table: SecondStageTable, area: IovaArea, largePages: boolean): void {
  const perms = {
    read: (area.flags & IOMMU_IOAS_MAP_READABLE) !== 0,
    write: (area.flags & IOMMU_IOAS_MAP_WRITABLE) !== 0,
  };
  let done = 0;
  while (done < area.length) {
    const { phys, contiguous } = area.file.locate(area.offset + done);
    const n = Math.min(contiguous, area.length - done);
    table.map(area.iova + done, phys, n, perms, largePages);
    done += n;
  }
}

/** Writes `area` into every domain of its IOAS. */
export function mapIntoAll(hwpts: Iterable<Hwpt>, area: IovaArea): void {
  for (const hwpt of hwpts) mapArea(hwpt.table, area, hwpt.largePages);
}
