/**
 * Names and limits of the vfio-pci driver model, pinned in one place. The compatible strings
 * mirror the upstream VFIO/PCI live update series: `vfio-pci-v1` (`VFIO_PCI_LUO_FH_COMPATIBLE`,
 * `include/linux/kho/abi/vfio_pci.h`) and the PCI core's FLB `pci` version 1 (`PCI_LUO_FLB_COMPATIBLE`
 * and `PCI_LUO_FLB_VERSION`), which this SDK spells `pci-v1` as it spells every versioned name.
 *
 * @module
 */
import { MiB } from "@liveupdate/core";

/** Schema name of a preserved vfio-pci device (compatible `vfio-pci-v<N>`). */
export const VFIO_PCI_SCHEMA_NAME = "vfio-pci";
/** Compatible string of the first vfio-pci handover format, as upstream names it. */
export const VFIO_PCI_COMPATIBLE = "vfio-pci-v1";
/** Schema name of the PCI core's FLB (compatible `pci-v<N>`). */
export const PCI_FLB_SCHEMA_NAME = "pci";
/** Compatible string of the PCI core's FLB (upstream: `"pci"`, version 1). */
export const PCI_FLB_COMPATIBLE = "pci-v1";

/** Bytes of config space a snapshot keeps: the standard header and the capabilities in it. */
export const CONFIG_SNAPSHOT_BYTES = 256;

/**
 * Where the PCI core assigns BARs: the 32-bit MMIO hole of the emulated x86 machine (RAM stops at
 * 3 GiB and resumes at 4 GiB), below the IOAPIC and the MSI window at 0xfec0_0000.
 */
export const PCI_MMIO_WINDOW = Object.freeze({ base: 0xc000_0000, end: 0xfec0_0000 });

/** Host interrupt vectors the PCI core hands to MSI-X entries (32–63 stay for the kernel itself). */
export const HOST_VECTORS = Object.freeze({ first: 0x40, last: 0xef });

/** `vfio_pci_bar.flags`: a 64-bit memory BAR. */
export const BAR_FLAG_64 = 0x1;
/** `vfio_pci_bar.flags`: a prefetchable memory BAR. */
export const BAR_FLAG_PREFETCH = 0x2;

/** Largest BAR the snapshot format records (the emulated PCI functions stop at 16 MiB). */
export const MAX_BAR_SIZE = 16 * MiB;
