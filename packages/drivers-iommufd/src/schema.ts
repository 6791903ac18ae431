/**
 * What crosses the kexec, as versioned binary structs. Each preserved iommufd context is one
 * `iommufd-v1`/`-v2` record: its IOAS ids, the IOVA map (areas naming the guestmemfs file token of
 * the same session and the file offset), and per HWPT the top table's physical address, its level
 * and its domain id; its devices (requester id, PASID directory) and their attachments. The IOMMU
 * core's state — the root table and the domain-id allocator — is an FLB, `iommu-liveupdate-v1`,
 * as upstream names it. The tables themselves stay in place: only their physical addresses cross.
 *
 * @module
 */
import {
  arrayPointer,
  type Infer,
  reserved,
  struct,
  u8,
  u16,
  u32,
  u64,
  versionedSchema,
} from "@liveupdate/core";
import { IOMMU_IOAS_MAP_ALL, PASID_LIMIT, TOP_LEVEL } from "./abi.js";

/** Most objects of one kind in a context record. */
const MAX_OBJECTS = 1 << 16;
/** Most IOVA areas in a context record. */
const MAX_AREAS = 1 << 22;

// #region common
/** One IOVA area: a range of a guestmemfs file preserved in the same session (by its token). */
export const IommufdAreaV1 = struct("iommufd_area_v1", {
  iova: u64(),
  length: u64({ min: 1n }),
  file_offset: u64(),
  file_token: u64(),
  ioas_id: u32({ min: 1 }),
  flags: u32({ mask: IOMMU_IOAS_MAP_ALL }),
});

/** A bound device: its requester id and the PASID directory its context entry points to. */
export const IommufdDeviceV1 = struct("iommufd_device_v1", {
  pasid_dir_phys: u64(),
  dev_id: u32({ min: 1 }),
  rid: u16(),
  _reserved: reserved(2),
});

/** `iommufd_attachment_v1.flags`: the attachment is for requests with `pasid` (else without PASID, `pasid` 0). */
export const ATTACH_WITH_PASID = 1;

/** A (device, PASID) → HWPT attachment. */
export const IommufdAttachmentV1 = struct("iommufd_attachment_v1", {
  dev_id: u32({ min: 1 }),
  hwpt_id: u32({ min: 1 }),
  pasid: u32({ max: PASID_LIMIT - 1 }),
  flags: u32({ mask: ATTACH_WITH_PASID }),
});
// #endregion common

// #region v1
/** A paging HWPT: where its tables are (top table, level), its domain id, the IOAS it mirrors. */
export const IommufdHwptV1 = struct("iommufd_hwpt_v1", {
  top_table_phys: u64(),
  hwpt_id: u32({ min: 1 }),
  ioas_id: u32({ min: 1 }),
  domain_id: u16({ min: 1 }),
  top_level: u8({ min: TOP_LEVEL, max: TOP_LEVEL }),
  large_pages: u8({ max: 1 }),
  _reserved: reserved(4),
});

/**
 * The fields of a context record, around its HWPT struct (the only part that changes between
 * versions): counts, then the arrays in preserved memory.
 */
function contextFields<H extends typeof IommufdHwptV1 | typeof IommufdHwptV2>(hwpt: H) {
  return {
    next_id: u32({ min: 1 }),
    nr_ioas: u32({ max: MAX_OBJECTS }),
    nr_areas: u32({ max: MAX_AREAS }),
    nr_hwpts: u32({ max: MAX_OBJECTS }),
    nr_devices: u32({ max: MAX_OBJECTS }),
    nr_attachments: u32({ max: MAX_OBJECTS }),
    ioas_ids: arrayPointer(u32({ min: 1 }), { count: "nr_ioas" }),
    areas: arrayPointer(IommufdAreaV1, { count: "nr_areas" }),
    hwpts: arrayPointer(hwpt, { count: "nr_hwpts" }),
    devices: arrayPointer(IommufdDeviceV1, { count: "nr_devices" }),
    attachments: arrayPointer(IommufdAttachmentV1, { count: "nr_attachments" }),
  };
}

/** Version 1 of a preserved iommufd context (`iommufd-v1`). */
export const IommufdV1 = struct("iommufd_v1", contextFields(IommufdHwptV1));
/** Decoded value of {@link IommufdV1}. */
export type IommufdV1Value = Infer<typeof IommufdV1>;
// #endregion v1

// #region v2
/** Version 2 of a HWPT adds its dirty-tracking state (`IOMMU_HWPT_SET_DIRTY_TRACKING`). */
export const IommufdHwptV2 = struct("iommufd_hwpt_v2", {
  top_table_phys: u64(),
  hwpt_id: u32({ min: 1 }),
  ioas_id: u32({ min: 1 }),
  domain_id: u16({ min: 1 }),
  top_level: u8({ min: TOP_LEVEL, max: TOP_LEVEL }),
  large_pages: u8({ max: 1 }),
  dirty_tracking: u8({ max: 1 }),
  nest_parent: u8({ max: 1 }),
  _reserved: reserved(2),
});

/** A vIOMMU on a nesting-parent HWPT. */
export const IommufdViommuV2 = struct("iommufd_viommu_v2", {
  viommu_id: u32({ min: 1 }),
  parent_hwpt_id: u32({ min: 1 }),
});

/** A vDEVICE: the guest's virtual id of a bound device behind a vIOMMU. */
export const IommufdVdeviceV2 = struct("iommufd_vdevice_v2", {
  vdevice_id: u32({ min: 1 }),
  viommu_id: u32({ min: 1 }),
  dev_id: u32({ min: 1 }),
  virtual_id: u32(),
});

/** A nested HWPT: the guest's first-stage table pointer (guest-physical) and its domain id. */
export const IommufdNestedV2 = struct("iommufd_nested_v2", {
  first_stage_gpa: u64(),
  hwpt_id: u32({ min: 1 }),
  viommu_id: u32({ min: 1 }),
  domain_id: u16({ min: 1 }),
  _reserved: reserved(6),
});

/**
 * Version 2 of a preserved iommufd context (`iommufd-v2`): HWPTs carry their dirty-tracking and
 * nesting-parent state, and the vIOMMU objects cross — vIOMMUs, vDEVICEs and nested HWPTs (the
 * guest's first-stage pointer; the guest's tables stay in guest memory, neither copied nor
 * rewritten).
 */
export const IommufdV2 = struct("iommufd_v2", {
  ...contextFields(IommufdHwptV2),
  nr_viommus: u32({ max: MAX_OBJECTS }),
  nr_vdevices: u32({ max: MAX_OBJECTS }),
  nr_nested: u32({ max: MAX_OBJECTS }),
  _reserved: reserved(4),
  viommus: arrayPointer(IommufdViommuV2, { count: "nr_viommus" }),
  vdevices: arrayPointer(IommufdVdeviceV2, { count: "nr_vdevices" }),
  nested: arrayPointer(IommufdNestedV2, { count: "nr_nested" }),
});
/** Decoded value of {@link IommufdV2}. */
export type IommufdV2Value = Infer<typeof IommufdV2>;
// #endregion v2

// #region migrators
/**
 * The iommufd context schema. v1 → v2 is lossless (dirty tracking off, no nesting, no vIOMMU); v2 →
 * v1 refuses, naming the field, a HWPT with dirty tracking on or a nesting parent, and any vIOMMU
 * object — v1 cannot express them, and dropping them would lose dirty pages the VMM counts on or a
 * guest's DMA translations.
 */
export const IommufdSchema = versionedSchema("iommufd", IommufdV1).next(IommufdV2, {
  kind: "injective",
  up: (v1) => ({
    ...v1,
    hwpts: v1.hwpts.map((h) => ({ ...h, dirty_tracking: 0, nest_parent: 0 })),
    viommus: [],
    vdevices: [],
    nested: [],
  }),
  down: ({ viommus, vdevices, nested, ...v2 }, ctx) => {
    const i = v2.hwpts.findIndex((h) => h.dirty_tracking !== 0);
    if (i >= 0) return ctx.refuse(`hwpts[${i}].dirty_tracking`, "iommufd-v1 has no dirty tracking");
    const j = v2.hwpts.findIndex((h) => h.nest_parent !== 0);
    if (j >= 0) return ctx.refuse(`hwpts[${j}].nest_parent`, "iommufd-v1 has no nesting");
    if (viommus.length > 0) return ctx.refuse("viommus", "iommufd-v1 has no vIOMMU");
    if (vdevices.length > 0) return ctx.refuse("vdevices", "iommufd-v1 has no vIOMMU");
    if (nested.length > 0) return ctx.refuse("nested", "iommufd-v1 has no nested HWPT");
    return { ...v2, hwpts: v2.hwpts.map(({ dirty_tracking: _d, nest_parent: _n, ...h }) => h) };
  },
});
// #endregion migrators

// #region flb
/** The IOMMU core's shared state (`iommu-liveupdate-v1`): the root table and the domain-id allocator. */
export const IommuLiveupdateV1 = struct("iommu_liveupdate_v1", {
  root_table_phys: u64(),
  next_domain_id: u32({ min: 1, max: 0xffff }),
  _reserved: reserved(4),
});
/** Decoded value of {@link IommuLiveupdateV1}. */
export type IommuLiveupdateV1Value = Infer<typeof IommuLiveupdateV1>;

/** `iommu_liveupdate_v2.flags`: `devices` lists every requester id the old kernel kept attached. */
export const IOMMU_LU_DEVICES_LISTED = 1;

/** A device the IOMMU core kept attached across the update (its requester id). */
export const IommuDeviceV2 = struct("iommu_device_v2", {
  rid: u16(),
  _reserved: reserved(6),
});

/**
 * Version 2 of the IOMMU core's shared state adds the requester ids of every device a preserved
 * context owns (as the early `intel-iommu` KHO prototype lists its domains' devices): the new
 * kernel blocks any other context entry it finds present when it adopts the root table.
 */
export const IommuLiveupdateV2 = struct("iommu_liveupdate_v2", {
  root_table_phys: u64(),
  next_domain_id: u32({ min: 1, max: 0xffff }),
  flags: u32({ mask: IOMMU_LU_DEVICES_LISTED }),
  nr_devices: u32({ max: 0x10000 }),
  _reserved: reserved(4),
  devices: arrayPointer(IommuDeviceV2, { count: "nr_devices" }),
});
/** Decoded value of {@link IommuLiveupdateV2}. */
export type IommuLiveupdateV2Value = Infer<typeof IommuLiveupdateV2>;

/**
 * The IOMMU core FLB's schema (`iommu-liveupdate-v1`/`-v2`). v1 → v2 marks the device list as
 * absent (flags 0: a v1 kernel did not list its devices, so stray context entries cannot be told
 * apart); v2 → v1 is lossy: it drops the list, and the v1 reader loses that check.
 */
export const IommuLiveupdateSchema = versionedSchema("iommu-liveupdate", IommuLiveupdateV1).next(
  IommuLiveupdateV2,
  {
    kind: "lossy",
    up: (v1) => ({ ...v1, flags: 0, devices: [] }),
    down: ({ root_table_phys, next_domain_id }) => ({ root_table_phys, next_domain_id }),
  },
);
// #endregion flb
