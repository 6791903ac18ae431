import { LiveUpdateError } from "../../common/errors.js";

/** A bus/device/function address is malformed or already taken on the bus. */
export class PciAddressError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "HW_BAD_PCI_ADDRESS";
  /**
   * @param bdf - the address as given.
   * @param reason - what is wrong with it.
   */
  constructor(
    readonly bdf: string,
    reason: string,
  ) {
    super(`PCI address ${bdf}: ${reason}`, { bdf, reason });
  }
}

/** A config-space or BAR access has a bad offset, size or BAR index. */
export class PciAccessError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "HW_BAD_PCI_ACCESS";
  /**
   * @param bdf - the function.
   * @param what - the access (e.g. `config write`, `BAR 2 read`).
   * @param offset - its offset.
   * @param size - its size in bytes.
   */
  constructor(bdf: string, what: string, offset: number, size: number) {
    super(`PCI ${bdf}: bad ${what} at offset ${offset} (size ${size})`, { bdf, what, offset, size });
  }
}

/** A PCI function was declared with an impossible layout (BAR size, MSI-X table outside its BAR). */
export class PciFunctionSpecError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "HW_BAD_PCI_FUNCTION";
  /**
   * @param field - the option at fault.
   * @param reason - why.
   */
  constructor(field: string, reason: string) {
    super(`invalid PCI function: ${field}: ${reason}`, { field, reason });
  }
}
