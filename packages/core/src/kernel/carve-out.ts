import { parseSize } from "../hw/size.js";
import { alignDown, MiB, type PhysAddr, type PhysRange } from "../hw/units.js";
import type { KernelCmdline } from "./cmdline.js";
import { CarveOutError } from "./errors.js";
import type { Memblock } from "./memblock.js";
import { mergeRanges, overlapsAny } from "./ranges.js";

/**
 * A boot-time carve-out: a contiguous range of RAM taken out of the kernel before the page
 * allocator exists (like `memmap=nn$ss`, `crashkernel=` or guestmemfs's `guestmemfs=`). It is
 * reserved in memblock under its label, so the page allocator never hands it out, and placed
 * deterministically from the firmware memory map alone: the next kernel, given the same value,
 * carves exactly the same range again and can adopt what the previous one left there.
 */
export interface CarveOutSpec {
  /** memblock label and lookup name (`Kernel.carveOut(label)`), e.g. `"guestmemfs"`. */
  readonly label: string;
  /** Command-line parameter `<param>=<size>[@<base>]` (default: the label). */
  readonly param?: string;
  /** Alignment of base and size in bytes (default 2 MiB, a PMD). */
  readonly align?: number;
  /** Size when the command line does not set one (bytes or `"64M"`); none = carve only on request. */
  readonly defaultSize?: number | string;
}

/** A carve-out this boot placed. */
export interface CarvedRegion extends PhysRange {
  /** Its label (also the memblock reservation's label). */
  readonly label: string;
  /** The command-line parameter it is configured with. */
  readonly param: string;
  /** Where the size came from. */
  readonly source: "cmdline" | "default";
}

/** Default alignment of a carve-out: one PMD (2 MiB). */
export const CARVE_OUT_ALIGN = 2 * MiB;

const declared = new WeakMap<object, readonly CarveOutSpec[]>();

/**
 * Declares that `owner` (a driver class) needs a carve-out: kernel builds that list the class
 * (`defineKernelBuild({ drivers })`) reserve it at boot. Subclasses inherit the declaration.
 *
 * @param owner - the class that needs the memory.
 * @param spec - label, parameter, alignment, default size.
 */
export function declareCarveOut(owner: object, spec: CarveOutSpec): void {
  declared.set(owner, [...(declared.get(owner) ?? []), Object.freeze({ ...spec })]);
}

/** The carve-outs declared for `owner` or any class it extends. */
export function carveOutsOf(owner: object): readonly CarveOutSpec[] {
  const out: CarveOutSpec[] = [];
  for (let c: object | null = owner; c !== null && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    out.push(...(declared.get(c) ?? []));
  }
  return out;
}

/** Parsed value of a carve-out parameter. */
export interface CarveOutRequest {
  /** Bytes to carve. */
  readonly size: number;
  /** Fixed base, when given with `@base`. */
  readonly base?: PhysAddr;
}

/**
 * Parses `<size>[@<base>]` (sizes as `memparse`: `48G`, `0x1000`, …). A size of 0 means no
 * carve-out (as `crashkernel=0`), overriding a declared default.
 *
 * @throws {@link CarveOutError} on a malformed value, or a size or base that is not a multiple of
 *   `align`.
 */
export function parseCarveOut(label: string, value: string, align = CARVE_OUT_ALIGN): CarveOutRequest {
  const malformed = () => new CarveOutError(label, "value", "expected <size>[@<base>]", { value });
  const [sizeText, baseText, ...rest] = value.split("@");
  if (rest.length > 0 || sizeText === undefined) throw malformed();
  let size: number;
  let base: number | undefined;
  try {
    size = parseSize(sizeText);
    base = baseText === undefined ? undefined : parseSize(baseText);
  } catch {
    throw malformed();
  }
  if (size % align !== 0) throw new CarveOutError(label, "size", `must be a multiple of ${align}`, { size });
  if (base !== undefined && base % align !== 0)
    throw new CarveOutError(label, "base", `must be a multiple of ${align}`, { base });
  return base === undefined ? { size } : { size, base };
}

/**
 * Places and reserves every carve-out of a boot, in declaration order. Without a fixed base a
 * carve-out takes the highest `align`-aligned range of RAM of its size below the carve-outs
 * placed before it — a function of the memory map only, so every kernel finds the same range.
 *
 * @param specs - the build's carve-outs (labels must be unique).
 * @param cmdline - the boot's command line (overrides default sizes).
 * @param memblock - reservations are recorded here under each label.
 * @param ram - the firmware's RAM ranges.
 * @param keepOut - ranges already taken that no carve-out may overlap (e.g. KHO scratch).
 * @throws {@link CarveOutError} when a carve-out is malformed, does not fit, or overlaps.
 */
export function reserveCarveOuts(
  specs: readonly CarveOutSpec[],
  cmdline: KernelCmdline,
  memblock: Memblock,
  ram: readonly PhysRange[],
  keepOut: readonly PhysRange[],
): CarvedRegion[] {
  const placed: CarvedRegion[] = [];
  const memory = mergeRanges(ram);
  for (const spec of specs) {
    const param = spec.param ?? spec.label;
    const align = spec.align ?? CARVE_OUT_ALIGN;
    if (placed.some((c) => c.label === spec.label))
      throw new CarveOutError(spec.label, "label", "declared twice in one build");
    const value = cmdline.get(param);
    const fallback = spec.defaultSize;
    if (value === undefined && fallback === undefined) continue;
    const request = parseCarveOut(spec.label, value ?? String(fallback), align);
    if (request.size === 0) continue;
    const below = Math.min(Number.MAX_SAFE_INTEGER, ...placed.map((c) => c.base));
    const base = request.base ?? highestFit(memory, request.size, align, below);
    if (base === undefined || !memory.some((r) => base >= r.base && base + request.size <= r.base + r.size)) {
      throw new CarveOutError(spec.label, "size", "does not fit in RAM", { size: request.size, base });
    }
    const taken = [...placed, ...keepOut, ...memblock.reserved()];
    if (overlapsAny(base, request.size, taken))
      throw new CarveOutError(spec.label, "overlap", "overlaps reserved memory", {
        base,
        size: request.size,
      });
    memblock.reserve(base, request.size, spec.label);
    placed.push(
      Object.freeze({
        label: spec.label,
        param,
        base,
        size: request.size,
        source: value === undefined ? "default" : "cmdline",
      }),
    );
  }
  return placed;
}

/** Highest aligned base of a `size` range inside one RAM range and below `limit`. */
function highestFit(
  ram: readonly PhysRange[],
  size: number,
  align: number,
  limit: number,
): number | undefined {
  for (let i = ram.length - 1; i >= 0; i--) {
    const r = ram[i]!;
    const base = alignDown(Math.min(r.base + r.size, limit) - size, align);
    if (base >= r.base) return base;
  }
  return undefined;
}
