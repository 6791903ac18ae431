/**
 * x86 MSI message format (Intel SDM vol. 3, "Message Signalled Interrupts"): the address is
 * `0xFEEx_xxxx` with the destination APIC id in bits 19:12; the data holds the vector in bits 7:0.
 * Delivery mode, trigger mode and redirection hints are not modelled (fixed, edge).
 *
 * @module
 */

/** An MSI/MSI-X message: the DMA write a device issues to raise an interrupt. */
export interface MsiMessage {
  /** Message address (32-bit; the upper address dword must be 0 on x86). */
  readonly address: number;
  /** Message data (32-bit). */
  readonly data: number;
}

/** Base of the x86 interrupt address window (`0xFEE0_0000`). */
export const MSI_ADDRESS_BASE = 0xfee0_0000;
/** Mask selecting the interrupt address window (bits 31:20). */
export const MSI_ADDRESS_WINDOW_MASK = 0xfff0_0000;
/** First vector a device may use (0–31 are CPU exceptions). */
export const FIRST_DEVICE_VECTOR = 32;
/** Last vector. */
export const LAST_VECTOR = 255;

/**
 * The message that raises `vector` on the CPU with APIC id `destination`.
 *
 * @example
 * ```ts
 * msiMessage(0x41); // { address: 0xfee00000, data: 0x41 }
 * ```
 */
export function msiMessage(vector: number, destination = 0): MsiMessage {
  return { address: (MSI_ADDRESS_BASE | ((destination & 0xff) << 12)) >>> 0, data: vector & 0xff };
}

/** The vector and destination of a message, or `undefined` when its address is outside the window. */
export function decodeMsi(message: MsiMessage): { vector: number; destination: number } | undefined {
  if ((message.address & MSI_ADDRESS_WINDOW_MASK) >>> 0 !== MSI_ADDRESS_BASE) return undefined;
  return { vector: message.data & 0xff, destination: (message.address >>> 12) & 0xff };
}
