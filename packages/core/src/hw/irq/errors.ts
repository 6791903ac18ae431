import { LiveUpdateError } from "../../common/errors.js";

/** A vector number is outside the device range (32–255), or a vector is wired twice. */
export class VectorError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "HW_BAD_VECTOR";
  /**
   * @param vector - the vector.
   * @param reason - what is wrong with it.
   */
  constructor(
    readonly vector: number,
    reason: string,
  ) {
    super(`interrupt vector ${vector}: ${reason}`, { vector, reason });
  }
}
