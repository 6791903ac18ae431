/**
 * What crosses the kexec for a passthrough device, as versioned binary structs. Each preserved
 * vfio-pci device is one `vfio-pci-v1`/`-v2` record: its address (as upstream's
 * `vfio_pci_core_device_ser`: BDF, domain, whether reset works, and the token of the iommufd
 * context it is bound to), its identity, a snapshot of its config space, the BAR layout and its
 * MSI-X vectors (message and host vector). v2 adds the per-vector mask the VMM set
 * (`VFIO_IRQ_SET_ACTION_MASK`). The PCI core's shared state — the preserved devices, the BAR and
 * vector allocators — is the `pci-v1` FLB. The device itself is not touched: only these facts
 * cross, and the next kernel checks the live device against them.
 *
 * @module
 */
import {
  array,
  arrayPointer,
  bytes,
  type Infer,
  reserved,
  struct,
  u8,
  u16,
  u32,
  u64,
  versionedSchema,
} from "@liveupdate/core";
import {
  BAR_FLAG_64,
  BAR_FLAG_PREFETCH,
  CONFIG_SNAPSHOT_BYTES,
  HOST_VECTORS,
  PCI_FLB_SCHEMA_NAME,
  VFIO_PCI_SCHEMA_NAME,
} from "./abi.js";

/** Most MSI-X vectors of one function (the table size field is 11 bits). */
const MAX_VECTORS = 2048;

// #region common
/** One memory BAR as the old kernel programmed it. */
export const VfioPciBarV1 = struct("vfio_pci_bar_v1", {
  address: u64(),
  size: u64({ min: 16n }),
  index: u8({ max: 5 }),
  flags: u8({ mask: BAR_FLAG_64 | BAR_FLAG_PREFETCH }),
  _reserved: reserved(6),
});

/** The fields every version shares, around the vector struct. */
function deviceFields<V extends typeof VfioPciVectorV1 | typeof VfioPciVectorV2>(vector: V) {
  return {
    iommufd_token: u64(),
    class_code: u32({ max: 0xff_ffff }),
    nr_bars: u32({ max: 6 }),
    nr_vectors: u32({ max: MAX_VECTORS }),
    bdf: u16(),
    domain: u16({ max: 0 }),
    vendor_id: u16(),
    device_id: u16(),
    command: u16(),
    msix_flags: u16(),
    reset_works: u8({ max: 1 }),
    _reserved: reserved(7),
    config: bytes(CONFIG_SNAPSHOT_BYTES),
    bars: arrayPointer(VfioPciBarV1, { count: "nr_bars" }),
    vectors: arrayPointer(vector, { count: "nr_vectors" }),
  };
}
// #endregion common

// #region v1
/** One MSI-X vector in use: its table entry's message and the host vector it raises. */
export const VfioPciVectorV1 = struct("vfio_pci_vector_v1", {
  msg_address: u64(),
  msg_data: u32(),
  index: u16({ max: MAX_VECTORS - 1 }),
  host_vector: u8({ min: HOST_VECTORS.first, max: HOST_VECTORS.last }),
  _reserved: reserved(1),
});

/** Version 1 of a preserved vfio-pci device (`vfio-pci-v1`). */
export const VfioPciV1 = struct("vfio_pci_v1", deviceFields(VfioPciVectorV1));
/** Decoded value of {@link VfioPciV1}. */
export type VfioPciV1Value = Infer<typeof VfioPciV1>;
// #endregion v1

// #region v2
/** Version 2 of a vector adds the mask the VMM set on it (`VFIO_IRQ_SET_ACTION_MASK`). */
export const VfioPciVectorV2 = struct("vfio_pci_vector_v2", {
  msg_address: u64(),
  msg_data: u32(),
  index: u16({ max: MAX_VECTORS - 1 }),
  host_vector: u8({ min: HOST_VECTORS.first, max: HOST_VECTORS.last }),
  masked: u8({ max: 1 }),
});

/** Version 2 of a preserved vfio-pci device (`vfio-pci-v2`): per-vector masks. */
export const VfioPciV2 = struct("vfio_pci_v2", deviceFields(VfioPciVectorV2));
/** Decoded value of {@link VfioPciV2}. */
export type VfioPciV2Value = Infer<typeof VfioPciV2>;
// #endregion v2

// #region migrators
/**
 * The vfio-pci device schema. v1 → v2 is lossless: a v1 kernel keeps no masked vector (it cannot
 * express one), so every vector is unmasked. v2 → v1 refuses, naming the vector, a device with a
 * masked vector: the v1 kernel would deliver interrupts the guest has masked.
 */
export const VfioPciSchema = versionedSchema(VFIO_PCI_SCHEMA_NAME, VfioPciV1).next(VfioPciV2, {
  kind: "injective",
  up: (v1) => ({ ...v1, vectors: v1.vectors.map((v) => ({ ...v, masked: 0 })) }),
  down: (v2, ctx) => {
    const i = v2.vectors.findIndex((v) => v.masked !== 0);
    if (i >= 0)
      return ctx.refuse(
        `vectors[${i}].masked`,
        "vfio-pci-v1 cannot keep a vector masked: the next kernel would deliver interrupts the guest masked",
      );
    return { ...v2, vectors: v2.vectors.map(({ masked: _m, ...v }) => ({ ...v })) };
  },
});
// #endregion migrators

// #region flb
/** One preserved device in the PCI core's FLB (upstream `struct pci_dev_ser`). */
export const PciDevSerV1 = struct("pci_dev_ser_v1", {
  domain: u16({ max: 0 }),
  bdf: u16(),
  refcount: u32({ min: 1 }),
});

/**
 * The PCI core's shared state (`pci-v1`, upstream `struct pci_ser`): the preserved devices, where
 * the BAR allocator stands and which host vectors are taken, so the next kernel neither resets a
 * preserved device at enumeration nor hands its BAR range or vectors to another device.
 */
export const PciSerV1 = struct("pci_ser_v1", {
  mmio_next: u64(),
  vectors_in_use: array(u64(), 4),
  nr_devices: u32({ max: 1 << 16 }),
  _reserved: reserved(4),
  devices: arrayPointer(PciDevSerV1, { count: "nr_devices" }),
});
/** Decoded value of {@link PciSerV1}. */
export type PciSerV1Value = Infer<typeof PciSerV1>;
/** The PCI core FLB's schema (`pci-v1`). */
export const PciSerSchema = versionedSchema(PCI_FLB_SCHEMA_NAME, PciSerV1);
// #endregion flb
