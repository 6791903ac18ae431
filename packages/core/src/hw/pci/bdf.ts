import { PciAddressError } from "./errors.js";

/** A PCI bus/device/function address (segment 0). */
export interface PciAddress {
  /** Bus number, 0–255. */
  readonly bus: number;
  /** Device number, 0–31. */
  readonly device: number;
  /** Function number, 0–7. */
  readonly function: number;
}

/**
 * The requester id of a function: `bus << 8 | device << 3 | function`, the id the IOMMU indexes
 * its root and context tables with.
 */
export function requesterIdOf(address: PciAddress): number {
  return (address.bus << 8) | (address.device << 3) | address.function;
}

/** Formats an address as Linux does: `0000:00:04.0`. */
export function formatBdf(address: PciAddress): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, "0");
  return `0000:${h(address.bus, 2)}:${h(address.device, 2)}.${address.function}`;
}

/**
 * Parses `0000:00:04.0` or `00:04.0`.
 *
 * @throws {@link PciAddressError} when malformed or out of range.
 */
export function parseBdf(text: string): PciAddress {
  const m = /^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(text);
  if (m === null || (m[1] !== undefined && Number.parseInt(m[1], 16) !== 0)) {
    throw new PciAddressError(text, "expected [0000:]bb:dd.f (segment 0)");
  }
  return checkedAddress({
    bus: Number.parseInt(m[2]!, 16),
    device: Number.parseInt(m[3]!, 16),
    function: Number(m[4]),
  });
}

/** Validates the ranges of an address. @throws {@link PciAddressError} */
export function checkedAddress(address: PciAddress): PciAddress {
  const ok =
    Number.isInteger(address.bus) &&
    address.bus >= 0 &&
    address.bus <= 255 &&
    Number.isInteger(address.device) &&
    address.device >= 0 &&
    address.device <= 31 &&
    Number.isInteger(address.function) &&
    address.function >= 0 &&
    address.function <= 7;
  if (!ok) throw new PciAddressError(JSON.stringify(address), "bus 0-255, device 0-31, function 0-7");
  return address;
}
