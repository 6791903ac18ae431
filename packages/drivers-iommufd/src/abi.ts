/**
 * Constants of the iommufd driver model: compatible strings (named as upstream's series names
 * them), IOAS mapping flags (uAPI values of `IOMMU_IOAS_MAP_*`) and the page sizes the domains use.
 *
 * @module
 */

/** Compatible string of the iommufd handover format (IOAS, HWPT, devices), as `IOMMUFD_LUO_COMPATIBLE`. */
export const IOMMUFD_COMPATIBLE = "iommufd-v1";
/** Reserved compatible string for a separate vIOMMU handover; vIOMMU objects currently cross inside `iommufd-v2`. */
export const VIOMMU_COMPATIBLE = "viommu-v1";
/**
 * Compatible string of the IOMMU core's shared state (an FLB), as upstream's
 * `IOMMU_LUO_FLB_COMPATIBLE` in `include/linux/kho/abi/iommu.h`.
 */
export const IOMMU_FLB_COMPATIBLE = "iommu-liveupdate-v1";

/** `IOMMU_IOAS_MAP_WRITABLE`: the device may write. */
export const IOMMU_IOAS_MAP_WRITABLE = 1 << 0;
/** `IOMMU_IOAS_MAP_READABLE`: the device may read. */
export const IOMMU_IOAS_MAP_READABLE = 1 << 1;
/** Every defined mapping flag. */
export const IOMMU_IOAS_MAP_ALL = IOMMU_IOAS_MAP_WRITABLE | IOMMU_IOAS_MAP_READABLE;

/** 4 KiB: the smallest page a domain maps. */
export const SMALL_PAGE = 4096;
/** 2 MiB: a second-stage leaf at level 2 (`PS`), used when IOVA, address and length allow. */
export const LARGE_PAGE = 2 * 1024 * 1024;
/** A level-3 leaf (PS set): 1 GiB, used where IOVA, address and length allow (VT-d `SLLPS` bit 1). */
export const HUGE_PAGE = 1024 * 1024 * 1024;
/** IOVAs are below 2^48 (4-level tables). */
export const IOVA_LIMIT = 2 ** 48;
/** Top level of every paging domain (4-level, 48-bit). */
export const TOP_LEVEL = 4;

/** PASID value recorded for an attachment without PASID (through the context entry's RID_PASID). */
export const NO_PASID = 0xffff_ffff;
/** The RID_PASID every context entry uses (PASID 0, as Linux's `IOMMU_NO_PASID`). */
export const RID_PASID = 0;
/** PASID directory size field (PDTS) of every context entry: 2^(0 + 7) entries, PASIDs below 8192. */
export const PASID_DIR_PDTS = 0;
/** PASIDs an attachment may use: below 2^(PDTS + 13). */
export const PASID_LIMIT = 2 ** (PASID_DIR_PDTS + 13);
