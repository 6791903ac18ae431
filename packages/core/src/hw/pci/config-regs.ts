/**
 * Config-space offsets and bits of a type 0 (endpoint) header, the MSI-X capability and the PCI
 * Express capability, as in the PCI Local Bus 3.0 and PCI Express Base specifications (Linux
 * names them in `include/uapi/linux/pci_regs.h`; the constant names below mirror those).
 *
 * @module
 */

/** Size of a PCI Express function's config space (extended config space included). */
export const PCI_CFG_SPACE_EXP_SIZE = 4096;
/** Vendor id (u16). */
export const PCI_VENDOR_ID = 0x00;
/** Device id (u16). */
export const PCI_DEVICE_ID = 0x02;
/** Command register (u16). */
export const PCI_COMMAND = 0x04;
/** Command: respond to memory-space accesses (BARs decode). */
export const PCI_COMMAND_MEMORY = 0x2;
/** Command: bus master — the function may issue DMA (and MSI writes). */
export const PCI_COMMAND_MASTER = 0x4;
/** Command: INTx emulation disabled. */
export const PCI_COMMAND_INTX_DISABLE = 0x400;
/** Status register (u16). */
export const PCI_STATUS = 0x06;
/** Status: the function has a capability list at {@link PCI_CAPABILITY_LIST}. */
export const PCI_STATUS_CAP_LIST = 0x10;
/** Revision id (u8). */
export const PCI_REVISION_ID = 0x08;
/** Class code (3 bytes: programming interface, subclass, base class). */
export const PCI_CLASS_PROG = 0x09;
/** Header type (u8; 0 = endpoint). */
export const PCI_HEADER_TYPE = 0x0e;
/** BAR 0 (u32); BAR n is at `PCI_BASE_ADDRESS_0 + 4 * n`. */
export const PCI_BASE_ADDRESS_0 = 0x10;
/** Number of BARs in a type 0 header. */
export const PCI_BAR_COUNT = 6;
/** BAR bits 2:1 = 10b: a 64-bit memory BAR (it uses the next BAR register as its upper half). */
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x4;
/** BAR bit 3: prefetchable memory. */
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x8;
/** Subsystem vendor id (u16). */
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
/** Subsystem id (u16). */
export const PCI_SUBSYSTEM_ID = 0x2e;
/** Pointer to the first capability (u8). */
export const PCI_CAPABILITY_LIST = 0x34;
/** Interrupt pin (u8; 0 = no INTx). */
export const PCI_INTERRUPT_PIN = 0x3d;

/** Capability id of PCI Express. */
export const PCI_CAP_ID_EXP = 0x10;
/** Capability id of MSI-X. */
export const PCI_CAP_ID_MSIX = 0x11;

/** Where this emulation places the MSI-X capability. */
export const MSIX_CAP_OFFSET = 0x40;
/** MSI-X Message Control (u16, capability offset 2). */
export const PCI_MSIX_FLAGS = 2;
/** Message Control bits 10:0: table size minus one. */
export const PCI_MSIX_FLAGS_QSIZE = 0x07ff;
/** Message Control bit 14: function mask. */
export const PCI_MSIX_FLAGS_MASKALL = 0x4000;
/** Message Control bit 15: MSI-X enable. */
export const PCI_MSIX_FLAGS_ENABLE = 0x8000;
/** Table offset / BIR (u32, capability offset 4): BIR in bits 2:0, 8-byte aligned offset above. */
export const PCI_MSIX_TABLE = 4;
/** PBA offset / BIR (u32, capability offset 8). */
export const PCI_MSIX_PBA = 8;
/** Mask of the BIR field. */
export const PCI_MSIX_BIR = 0x7;
/** Size of the MSI-X capability structure. */
export const MSIX_CAP_SIZE = 12;
/** Bytes per MSI-X table entry. */
export const PCI_MSIX_ENTRY_SIZE = 16;
/** Entry: message address, low dword. */
export const PCI_MSIX_ENTRY_LOWER_ADDR = 0;
/** Entry: message address, high dword. */
export const PCI_MSIX_ENTRY_UPPER_ADDR = 4;
/** Entry: message data. */
export const PCI_MSIX_ENTRY_DATA = 8;
/** Entry: vector control. */
export const PCI_MSIX_ENTRY_VECTOR_CTRL = 12;
/** Vector control bit 0: the vector is masked. */
export const PCI_MSIX_ENTRY_CTRL_MASKBIT = 0x1;

/** Where this emulation places the PCI Express capability. */
export const EXP_CAP_OFFSET = 0x50;
/** Size of the PCI Express capability structure (version 2). */
export const EXP_CAP_SIZE = 0x3c;
/** PCI Express Capabilities register (u16, offset 2): version in bits 3:0. */
export const PCI_EXP_FLAGS = 2;
/** Device Capabilities (u32, offset 4). */
export const PCI_EXP_DEVCAP = 4;
/** Device Capabilities bit 28: function-level reset capable. */
export const PCI_EXP_DEVCAP_FLR = 0x1000_0000;
/** Device Control (u16, offset 8). */
export const PCI_EXP_DEVCTL = 8;
/** Device Control bit 15: initiate function-level reset (reads as 0). */
export const PCI_EXP_DEVCTL_BCR_FLR = 0x8000;
