/**
 * What a kernel's PCI core does to a function through config space and the MSI-X table, as Linux's
 * `pci_set_master`, `pci_assign_resource`, `pci_msix_write_msg` and `pcie_flr` do: every access
 * goes through the function's config and MMIO interface, never around it.
 *
 * @module
 */
import { type MsiMessage, type PciFunction, pciRegs } from "@liveupdate/core";
import { BAR_FLAG_64, BAR_FLAG_PREFETCH, CONFIG_SNAPSHOT_BYTES } from "../abi.js";

const {
  PCI_BASE_ADDRESS_0,
  PCI_COMMAND,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  MSIX_CAP_OFFSET,
  PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_TABLE,
  PCI_MSIX_PBA,
  PCI_MSIX_BIR,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_ENTRY_LOWER_ADDR,
  PCI_MSIX_ENTRY_UPPER_ADDR,
  PCI_MSIX_ENTRY_DATA,
  PCI_MSIX_ENTRY_VECTOR_CTRL,
  PCI_MSIX_ENTRY_CTRL_MASKBIT,
  PCI_MSIX_FLAGS_QSIZE,
  EXP_CAP_OFFSET,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL_BCR_FLR,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP_FLR,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
} = pciRegs;

/** Where the MSI-X table and PBA live, as the capability says. */
export interface MsixPlacement {
  /** Table size. */
  readonly vectors: number;
  /** BAR of the table. */
  readonly tableBar: number;
  /** Offset of the table in it. */
  readonly tableOffset: number;
  /** BAR of the PBA. */
  readonly pbaBar: number;
  /** Offset of the PBA in it. */
  readonly pbaOffset: number;
}

/** The MSI-X capability's placement, or `undefined` for a function without MSI-X. */
export function msixPlacement(fn: PciFunction): MsixPlacement | undefined {
  if (fn.spec.msix === undefined) return undefined;
  const table = fn.configRead(MSIX_CAP_OFFSET + PCI_MSIX_TABLE, 4);
  const pba = fn.configRead(MSIX_CAP_OFFSET + PCI_MSIX_PBA, 4);
  return {
    vectors: (fn.configRead(MSIX_CAP_OFFSET + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1,
    tableBar: table & PCI_MSIX_BIR,
    tableOffset: (table & ~PCI_MSIX_BIR) >>> 0,
    pbaBar: pba & PCI_MSIX_BIR,
    pbaOffset: (pba & ~PCI_MSIX_BIR) >>> 0,
  };
}

/** Sets or clears bits of the command register. */
export function setCommandBits(fn: PciFunction, bits: number, on: boolean): void {
  const command = fn.configRead(PCI_COMMAND, 2);
  fn.configWrite(PCI_COMMAND, 2, on ? command | bits : command & ~bits);
}

/** Memory decoding and bus mastering bits. */
export const COMMAND_MEMORY = PCI_COMMAND_MEMORY;
/** Bus mastering (DMA and MSI-X). */
export const COMMAND_MASTER = PCI_COMMAND_MASTER;

/** Programs BAR `index` with `address` (both dwords of a 64-bit BAR). */
export function programBar(fn: PciFunction, index: number, address: number): void {
  const reg = PCI_BASE_ADDRESS_0 + 4 * index;
  fn.configWrite(reg, 4, address % 2 ** 32);
  if (barFlags(fn, index) & BAR_FLAG_64) fn.configWrite(reg + 4, 4, Math.floor(address / 2 ** 32));
}

/** A BAR's type bits as `vfio_pci_bar.flags`. */
export function barFlags(fn: PciFunction, index: number): number {
  const low = fn.configRead(PCI_BASE_ADDRESS_0 + 4 * index, 4);
  return (
    ((low & PCI_BASE_ADDRESS_MEM_TYPE_64) !== 0 ? BAR_FLAG_64 : 0) |
    ((low & PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0 ? BAR_FLAG_PREFETCH : 0)
  );
}

/** Writes an MSI-X table entry (message first, then the vector control word). */
export function writeMsixEntry(
  fn: PciFunction,
  m: MsixPlacement,
  index: number,
  message: MsiMessage,
  masked: boolean,
): void {
  const base = m.tableOffset + index * PCI_MSIX_ENTRY_SIZE;
  fn.mmioWrite32(m.tableBar, base + PCI_MSIX_ENTRY_LOWER_ADDR, message.address);
  fn.mmioWrite32(m.tableBar, base + PCI_MSIX_ENTRY_UPPER_ADDR, 0);
  fn.mmioWrite32(m.tableBar, base + PCI_MSIX_ENTRY_DATA, message.data);
  fn.mmioWrite32(m.tableBar, base + PCI_MSIX_ENTRY_VECTOR_CTRL, masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
}

/** Sets or clears an MSI-X entry's mask bit (unmasking delivers what the PBA latched). */
export function setMsixMask(fn: PciFunction, m: MsixPlacement, index: number, masked: boolean): void {
  const at = m.tableOffset + index * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL;
  fn.mmioWrite32(m.tableBar, at, masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
}

/** An MSI-X entry as the table holds it. */
export function readMsixEntry(
  fn: PciFunction,
  m: MsixPlacement,
  index: number,
): { address: number; data: number; masked: boolean } {
  const base = m.tableOffset + index * PCI_MSIX_ENTRY_SIZE;
  const low = fn.mmioRead32(m.tableBar, base + PCI_MSIX_ENTRY_LOWER_ADDR);
  const high = fn.mmioRead32(m.tableBar, base + PCI_MSIX_ENTRY_UPPER_ADDR);
  const ctrl = fn.mmioRead32(m.tableBar, base + PCI_MSIX_ENTRY_VECTOR_CTRL);
  return {
    address: high * 2 ** 32 + low,
    data: fn.mmioRead32(m.tableBar, base + PCI_MSIX_ENTRY_DATA),
    masked: (ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0,
  };
}

/** MSI-X Message Control. */
export function msixFlags(fn: PciFunction): number {
  return fn.configRead(MSIX_CAP_OFFSET + PCI_MSIX_FLAGS, 2);
}

/** Enables MSI-X (function mask off). */
export function enableMsix(fn: PciFunction): void {
  fn.configWrite(MSIX_CAP_OFFSET + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
}

/** Whether Message Control has MSI-X enabled. */
export function msixEnabled(flags: number): boolean {
  return (flags & PCI_MSIX_FLAGS_ENABLE) !== 0;
}

/** Whether the function advertises function-level reset. */
export function flrCapable(fn: PciFunction): boolean {
  return (fn.configRead(EXP_CAP_OFFSET + PCI_EXP_DEVCAP, 4) & PCI_EXP_DEVCAP_FLR) !== 0;
}

/** Initiates a function-level reset (`pcie_flr`). */
export function initiateFlr(fn: PciFunction): void {
  fn.configWrite(EXP_CAP_OFFSET + PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_BCR_FLR);
}

/** The first {@link CONFIG_SNAPSHOT_BYTES} of config space, read dword by dword. */
export function configSnapshot(fn: PciFunction): Uint8Array {
  const bytes = new Uint8Array(CONFIG_SNAPSHOT_BYTES);
  const view = new DataView(bytes.buffer);
  for (let at = 0; at < CONFIG_SNAPSHOT_BYTES; at += 4) view.setUint32(at, fn.configRead(at, 4), true);
  return bytes;
}

/** Class code (24 bits) from config space. */
export function classCode(fn: PciFunction): number {
  return fn.configRead(pciRegs.PCI_CLASS_PROG, 1) | (fn.configRead(pciRegs.PCI_CLASS_PROG + 1, 2) << 8);
}
