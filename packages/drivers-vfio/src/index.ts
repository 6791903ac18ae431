/**
 * `@liveupdate/drivers-vfio` — the vfio-pci driver model: passthrough devices stay bound and are not
 * reset across kexec. The driver is built by its own issue; this package currently pins only the
 * handover compatible string it will implement.
 *
 * @packageDocumentation
 */

/** Compatible string of the vfio-pci handover format, as upstream names it. */
export const VFIO_PCI_COMPATIBLE = "vfio-pci-v1";
