import type { PhysAddr } from "./units.js";

/**
 * The contract between a DMA-capable device and whatever translates its addresses (the IOMMU, or a
 * bus with no IOMMU in front of it). Devices depend only on this module; the IOMMU implements
 * {@link DmaRemapper}. Hardware-only: nothing here knows about kernels.
 *
 * @module
 */

/** A DMA request as it leaves a PCI function, before any translation. */
export interface DmaRequest {
  /** Requester id: the function's bus/device/function, `bus << 8 | device << 3 | function`. */
  readonly requesterId: number;
  /**
   * PASID of a request with a PASID TLP prefix; `undefined` for a request without one (the IOMMU
   * then uses the context entry's RID_PASID).
   */
  readonly pasid: number | undefined;
  /** The I/O virtual address (a safe integer). */
  readonly iova: number;
  /** True for a DMA write (device → memory), false for a read. */
  readonly write: boolean;
}

/**
 * Why a DMA request was not translated. Each is a fault the IOMMU records (reason, requester,
 * PASID, address); a fault ends that request, never the emulator.
 */
export type DmaFaultReason =
  /** The root or context entry for the requester id is not present. */
  | "context-not-present"
  /** The PASID directory or PASID table entry is not present. */
  | "pasid-not-present"
  /** A page-table entry on the walk is not present. */
  | "page-not-present"
  /** A write hit a mapping without write permission. */
  | "write-to-read-only"
  /** A read hit a mapping without read permission (a write-only second-stage entry). */
  | "read-not-permitted"
  /** A structure or table entry had reserved bits set (or an invalid encoding). */
  | "reserved-bits"
  /** The address is beyond the domain's address width. */
  | "address-beyond-width"
  /** A structure or table pointer points outside physical memory. */
  | "table-outside-memory"
  /** The walk revisited a table page (a loop in the tables). */
  | "table-loop";

/**
 * The outcome of translating one {@link DmaRequest}. A successful translation covers the whole
 * page the IOVA lies in: `phys` is the host-physical address of `iova`, and the next
 * `contiguous` bytes (up to the end of the leaf page) translate linearly, so a device may move up
 * to `contiguous` bytes without translating again.
 */
export type DmaTranslation =
  | {
      /** Translated. */
      readonly ok: true;
      /** Host-physical address of the requested IOVA. */
      readonly phys: PhysAddr;
      /** Bytes from `phys` to the end of the leaf page (≥ 1). */
      readonly contiguous: number;
      /**
       * True when no translation took place because translation is disabled (DMA went straight to
       * physical memory). End-to-end checks count this as a failure for a device behind an IOMMU.
       */
      readonly untranslated: boolean;
    }
  | {
      /** Faulted. */
      readonly ok: false;
      /** Why. */
      readonly reason: DmaFaultReason;
    };

/** Anything that translates device DMA: the VT-d IOMMU, or {@link IDENTITY_DMA} for a bus without one. */
export interface DmaRemapper {
  /** Translates one request (and records a fault when it fails). */
  translate(request: DmaRequest): DmaTranslation;
}

/**
 * A bus with no IOMMU: every DMA address is a physical address. Each translation is reported as
 * `untranslated`, so checks that require an IOMMU see it.
 *
 * @example
 * ```ts
 * const t = IDENTITY_DMA.translate({ requesterId: 0x0100, pasid: undefined, iova: 0x1000, write: false });
 * // t.ok && t.phys === 0x1000 && t.untranslated
 * ```
 */
export const IDENTITY_DMA: DmaRemapper = {
  translate(request: DmaRequest): DmaTranslation {
    const pageEnd = (Math.floor(request.iova / 4096) + 1) * 4096;
    return { ok: true, phys: request.iova, contiguous: pageEnd - request.iova, untranslated: true };
  },
};
