import { hex, LiveUpdateError } from "../../common/errors.js";

/**
 * A table entry or invalidation descriptor could not be encoded: a field is out of range (an
 * address not 4 KiB aligned or beyond the host address width, a domain id above 16 bits, …).
 * Raised by the public encoders that drivers use to build tables; the hardware itself never
 * throws on what it reads from memory (bad tables are faults).
 */
export class VtdEncodeError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "HW_VTD_ENCODE";
  /**
   * @param structure - what was being encoded (e.g. `"pasid-entry"`).
   * @param field - the offending field.
   * @param value - its value.
   * @param reason - what is wrong with it.
   */
  constructor(structure: string, field: string, value: unknown, reason: string) {
    super(`cannot encode VT-d ${structure}: ${field} = ${format(value)} ${reason}`, {
      structure,
      field,
      value,
    });
  }
}

/** A register access named an offset that the emulated VT-d unit does not implement. */
export class VtdRegisterError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "HW_VTD_REGISTER";
  /**
   * @param offset - the register offset.
   * @param access - `"read"` or `"write"`.
   * @param reason - why the access is refused.
   */
  constructor(offset: number, access: "read" | "write", reason: string) {
    super(`VT-d register ${access} at offset ${hex(offset)}: ${reason}`, {
      driver: "vt-d",
      register: hex(offset),
      access,
    });
  }
}

/** Invalidation descriptors could not be queued (the queue is off, stopped, or full). */
export class VtdQueueError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "HW_VTD_QUEUE";
  /** @param reason - why nothing was queued. */
  constructor(reason: string) {
    super(`cannot queue VT-d invalidations: ${reason}`, { driver: "vt-d", reason });
  }
}

function format(value: unknown): string {
  return typeof value === "number" || typeof value === "bigint" ? hex(value) : String(value);
}
