import { type PhysicalMemory, SECTION_SIZE } from "@liveupdate/core";
import { EXTENT_SIZE } from "./abi.js";
import type { ExtentRun } from "./extent-allocator.js";

/** What an extent held when captured: a copy of its bytes, or the byte an unwritten extent reads as. */
type ExtentContent = Uint8Array | number;

/**
 * Counts the bytes of data extents that changed between two moments — the measure of "the update
 * never copies or touches guest data": capture before the update, count after; it must be 0.
 * Emulated memory is sparse, so only extents that hold written data are copied; an extent never
 * written is recorded by the byte it reads as (0, or poison after an unpreserved kexec).
 *
 * @example
 * ```ts
 * const audit = DataExtentAudit.capture(memory, files.flatMap((f) => f.runs));
 * h.update();
 * expect(audit.bytesChanged(memory)).toBe(0);
 * ```
 */
export class DataExtentAudit {
  private constructor(private readonly before: ReadonlyMap<number, ExtentContent>) {}

  /** Number of extents audited. */
  get extents(): number {
    return this.before.size;
  }

  /**
   * Records the content of every extent of `runs`.
   *
   * @param memory - the machine's physical memory.
   * @param runs - the extents to audit.
   */
  static capture(memory: PhysicalMemory, runs: readonly ExtentRun[]): DataExtentAudit {
    const before = new Map<number, ExtentContent>();
    for (const run of runs) {
      for (let e = 0; e < run.count; e++) {
        const phys = run.phys + e * EXTENT_SIZE;
        before.set(phys, memory.fillByteAt(phys));
      }
    }
    for (const [phys, bytes] of backed(memory, before)) before.set(phys, bytes.slice());
    return new DataExtentAudit(before);
  }

  /** Bytes of the audited extents that differ from what they held at capture. */
  bytesChanged(memory: PhysicalMemory): number {
    const now = backed(memory, this.before);
    let changed = 0;
    for (const [phys, was] of this.before) {
      const is = now.get(phys) ?? memory.fillByteAt(phys);
      changed += difference(was, is);
    }
    return changed;
  }
}

/** The audited extents that hold written data now, as views into memory. */
function backed(memory: PhysicalMemory, extents: ReadonlyMap<number, unknown>): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const { base, bytes } of memory.backedSections()) if (extents.has(base)) out.set(base, bytes);
  return out;
}

/** Bytes that differ between two extent contents (word by word, bytes only where a word differs). */
function difference(a: ExtentContent, b: ExtentContent): number {
  if (typeof a === "number" && typeof b === "number") return a === b ? 0 : EXTENT_SIZE;
  const x = typeof a === "number" ? filled(a) : a;
  const y = typeof b === "number" ? filled(b) : b;
  const wx = new Uint32Array(x.buffer, x.byteOffset, EXTENT_SIZE / 4);
  const wy = new Uint32Array(y.buffer, y.byteOffset, EXTENT_SIZE / 4);
  let n = 0;
  for (let i = 0; i < wx.length; i++) {
    if (wx[i] === wy[i]) continue;
    for (let j = 4 * i; j < 4 * i + 4; j++) if (x[j] !== y[j]) n++;
  }
  return n;
}

const filledExtents = new Map<number, Uint8Array>();

/** A read-only extent of one byte value (shared: compared against, never written). */
function filled(byte: number): Uint8Array {
  let bytes = filledExtents.get(byte);
  if (bytes === undefined) {
    bytes = new Uint8Array(EXTENT_SIZE).fill(byte);
    filledExtents.set(byte, bytes);
  }
  return bytes;
}

// Extents are audited section by section: the sparse memory backs 2 MiB sections, one per extent.
if (SECTION_SIZE !== EXTENT_SIZE)
  throw new RangeError("guestmemfs audit: section size is not the extent size");
