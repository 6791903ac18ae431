import type { PhysicalMemory } from "../hw/physical-memory.js";
import { parseSize } from "../hw/size.js";
import { alignUp, GiB, PAGE_SIZE, type PhysRange } from "../hw/units.js";
import { CmdlineError } from "../kernel/errors.js";
import type { Memblock } from "../kernel/memblock.js";
import { KHO_SCRATCH, KHO_SCRATCH_ALIGN, KHO_SCRATCH_DEFAULT_SCALE } from "./abi.js";
import { KhoScratchError } from "./errors.js";

/** Parsed `kho_scratch=`: a scale in percent, or explicit lowmem/global/per-node sizes. */
export type ScratchPolicy =
  | { readonly kind: "scale"; readonly percent: number }
  | { readonly kind: "sizes"; readonly lowmem: number; readonly global: number; readonly pernode: number };

/** `ARCH_LOW_ADDRESS_LIMIT` on x86-64: the lowmem scratch area lives below 4 GiB. */
const LOW_ADDRESS_LIMIT = 4 * GiB;
/** Reservation labels that count as kernel-reserved memory (`MEMBLOCK_RSRV_KERN`). */
const KERNEL_RESERVATIONS = ["kernel-image", "memmap"];

/**
 * Parses `kho_scratch=` as upstream does (`kho_parse_scratch_size`): either `N%` (at most ten
 * digits), or exactly three sizes `lowmem,global,pernode` with K/M/G suffixes whose total is not
 * zero. Absent means the default scale of 200 %.
 *
 * @example
 * ```ts
 * parseScratchPolicy("16M,512M,256M"); // { kind: "sizes", lowmem: 16 MiB, … }
 * parseScratchPolicy("150%"); // { kind: "scale", percent: 150 }
 * ```
 * @throws {@link CmdlineError} on anything else — never silently falls back.
 */
export function parseScratchPolicy(value: string | undefined): ScratchPolicy {
  if (value === undefined) return { kind: "scale", percent: KHO_SCRATCH_DEFAULT_SCALE };
  if (value.endsWith("%")) {
    const digits = value.slice(0, -1);
    if (!/^\d{1,10}$/.test(digits))
      throw new CmdlineError("kho_scratch", value, "expected N% with N ≤ 10 digits");
    if (Number(digits) === 0) throw new CmdlineError("kho_scratch", value, "a 0 % scale reserves no scratch");
    return { kind: "scale", percent: Number(digits) };
  }
  const parts = value.split(",");
  if (parts.length !== 3)
    throw new CmdlineError("kho_scratch", value, "expected lowmem,global,pernode or N%");
  let sizes: number[];
  try {
    sizes = parts.map(parseSize);
  } catch (cause) {
    throw new CmdlineError("kho_scratch", value, `bad size (${(cause as Error).message})`);
  }
  const [lowmem, global, pernode] = sizes as [number, number, number];
  if (lowmem + global + pernode === 0)
    throw new CmdlineError("kho_scratch", value, "total scratch size is zero");
  if (sizes.some((size) => size % PAGE_SIZE !== 0)) {
    // The next kernel refuses scratch areas that are not whole pages; say so now, not after kexec.
    throw new CmdlineError("kho_scratch", value, "sizes must be multiples of 4 KiB");
  }
  return { kind: "sizes", lowmem, global, pernode };
}

/** Sizes of the three scratch areas (lowmem, global, node 0) for a policy and the boot's reservations. */
export function scratchSizes(policy: ScratchPolicy, memblock: Memblock): [number, number, number] {
  if (policy.kind === "sizes") {
    // Upstream rounds only the per-node size in explicit mode.
    return [policy.lowmem, policy.global, alignUp(policy.pernode, KHO_SCRATCH_ALIGN)];
  }
  const scale = (bytes: number): number => Math.floor((bytes * policy.percent) / 100);
  const total = memblock.reservedBytes(Number.MAX_SAFE_INTEGER, KERNEL_RESERVATIONS);
  const low = memblock.reservedBytes(LOW_ADDRESS_LIMIT, KERNEL_RESERVATIONS);
  const lowmem = alignUp(scale(low), KHO_SCRATCH_ALIGN);
  const global = alignUp(Math.max(0, scale(total) - lowmem), KHO_SCRATCH_ALIGN);
  const pernode = alignUp(scale(total), KHO_SCRATCH_ALIGN);
  return [lowmem, global, pernode];
}

/**
 * Reserves scratch areas on a cold boot (mirrors `kho_reserve_scratch`): the `kho_scratch` array,
 * then lowmem (below 4 GiB), global and per-node areas, 2 MiB aligned. Zero-sized areas are left out.
 *
 * @returns the areas and the physical address of the array describing them.
 * @throws {@link KhoScratchError} when memory is too small for the requested sizes.
 */
export function reserveScratch(
  policy: ScratchPolicy,
  memblock: Memblock,
  memory: PhysicalMemory,
): { areas: PhysRange[]; arrayPhys: number } {
  const [lowmem, global, pernode] = scratchSizes(policy, memblock);
  const areas: PhysRange[] = [];
  try {
    const arrayPhys = memblock.alloc(PAGE_SIZE, PAGE_SIZE, "kho-scratch-array");
    if (lowmem > 0)
      areas.push({
        base: memblock.alloc(lowmem, KHO_SCRATCH_ALIGN, "kho-scratch", LOW_ADDRESS_LIMIT),
        size: lowmem,
      });
    if (global > 0)
      areas.push({ base: memblock.alloc(global, KHO_SCRATCH_ALIGN, "kho-scratch"), size: global });
    if (pernode > 0)
      areas.push({ base: memblock.alloc(pernode, KHO_SCRATCH_ALIGN, "kho-scratch"), size: pernode });
    writeScratchArray(memory, arrayPhys, areas);
    return { areas, arrayPhys };
  } catch (cause) {
    throw new KhoScratchError("cannot reserve scratch areas", { lowmem, global, pernode }, cause);
  }
}

/** Writes `struct kho_scratch[]` at `phys`. */
export function writeScratchArray(memory: PhysicalMemory, phys: number, areas: readonly PhysRange[]): void {
  const bytes = new Uint8Array(areas.length * KHO_SCRATCH.sizeof);
  const view = new DataView(bytes.buffer);
  areas.forEach((area, i) => {
    view.setBigUint64(i * KHO_SCRATCH.sizeof + KHO_SCRATCH.addr, BigInt(area.base), true);
    view.setBigUint64(i * KHO_SCRATCH.sizeof + KHO_SCRATCH.size, BigInt(area.size), true);
  });
  memory.write(phys, bytes);
}
