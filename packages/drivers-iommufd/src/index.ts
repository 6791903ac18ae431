/**
 * `@liveupdate/drivers-iommufd` — iommufd and vIOMMU driver models that keep IOMMU page tables in
 * place across kexec. The drivers are built by their own issue; this package currently pins only the
 * handover compatible strings they will implement.
 *
 * @packageDocumentation
 */

/** Compatible string of the iommufd handover format (IOAS, HWPT, domains). */
export const IOMMUFD_COMPATIBLE = "iommufd-v1";
/** Compatible string of the vIOMMU handover format (vIOMMU and vDEVICE objects). */
export const VIOMMU_COMPATIBLE = "viommu-v1";
