import type { GuestmemFile } from "@liveupdate/guestmemfs";
import type { SecondStageTable } from "../vtd/second-stage.js";
import type { FilePins } from "./file-pins.js";
import { IovaMap, type IovaRange } from "./iova-map.js";

/**
 * One mapped range of an IOAS: a range of a guestmemfs file (as `IOMMU_IOAS_MAP_FILE` maps a memfd),
 * pinned (see {@link FilePins}) so the file cannot shrink under it.
 */
export interface IovaArea extends IovaRange {
  /** `IOMMU_IOAS_MAP_*` flags. */
  readonly flags: number;
  /** The backing file. */
  readonly file: GuestmemFile;
  /** Offset of `iova` in the file. */
  readonly offset: number;
}

/**
 * An open iommufd (`/dev/iommu`): the object a VMM preserves by token in a LUO session. It owns its
 * IOASes, HWPTs and bound devices; ids are per context, as iommufd object ids are.
 */
export class IommufdContext {
  /** IO address spaces by id. */
  readonly ioas = new Map<number, Ioas>();
  /** HWPTs (paging domains) by id. */
  readonly hwpts = new Map<number, Hwpt>();
  /** Bound devices by id. */
  readonly devices = new Map<number, IommufdDevice>();
  /** vIOMMUs by id. */
  readonly viommus = new Map<number, Viommu>();
  /** Nested HWPTs (guest first-stage tables over a nesting parent) by id. */
  readonly nested = new Map<number, NestedHwpt>();
  /** Next object id. */
  nextId = 1;
  /** True between prepare and cancel (or the reboot): its devices stay attached across kexec. */
  preserved = false;
  /** True once closed: every operation then fails with `ENOENT`. */
  closed = false;

  /** @param pins - the files its areas map, pinned. */
  constructor(readonly pins: FilePins) {}

  /** Hands out an object id. */
  allocateId(): number {
    return this.nextId++;
  }
}

/** An IO address space (`IOMMU_IOAS_ALLOC`): the IOVA map every HWPT allocated on it mirrors. */
export class Ioas {
  /** The mapped areas. */
  readonly areas = new IovaMap<IovaArea>();
  /** Paging domains that mirror this IOAS. */
  readonly hwpts = new Set<Hwpt>();

  /**
   * @param ctx - owning context.
   * @param id - object id.
   */
  constructor(
    readonly ctx: IommufdContext,
    readonly id: number,
  ) {}
}

/** How a HWPT was allocated. */
export interface HwptOptions {
  /** Use 2 MiB leaves where IOVA, address and length allow (default true). */
  readonly largePages?: boolean;
  /** May carry vIOMMUs and nested HWPTs (`IOMMU_HWPT_ALLOC_NEST_PARENT`; default false). */
  readonly nestParent?: boolean;
  /** Dirty tracking enabled (`IOMMU_HWPT_SET_DIRTY_TRACKING`; recorded, default false). */
  readonly dirtyTracking?: boolean;
}

/** A paging HWPT (`IOMMU_HWPT_ALLOC`): one IOMMU domain with its domain id and second-stage tables. */
export class Hwpt {
  /** Attachments (device, PASID) translating through this domain. */
  readonly attachments = new Set<Attachment>();
  /** Dirty tracking enabled (v2 state). */
  dirtyTracking: boolean;
  /** Whether vIOMMUs may be allocated on it (`IOMMU_HWPT_ALLOC_NEST_PARENT`). */
  nestParent = false;
  /** vIOMMUs on this nesting parent. */
  readonly viommus = new Set<Viommu>();

  /**
   * @param ctx - owning context.
   * @param id - object id.
   * @param ioas - the IOAS it mirrors.
   * @param domainId - the VT-d domain id (the IOTLB tag), kept across live updates.
   * @param table - its second-stage tables.
   * @param largePages - whether it maps with 2 MiB leaves.
   * @param dirtyTracking - initial dirty-tracking state.
   */
  constructor(
    readonly ctx: IommufdContext,
    readonly id: number,
    readonly ioas: Ioas,
    readonly domainId: number,
    readonly table: SecondStageTable,
    readonly largePages: boolean,
    dirtyTracking: boolean,
  ) {
    this.dirtyTracking = dirtyTracking;
  }
}

/** A device bound to a context (`VFIO_DEVICE_BIND_IOMMUFD`), by its PCI requester id. */
export class IommufdDevice {
  /** Its attachments by PASID (`NO_PASID` for requests without one). */
  readonly attachments = new Map<number, Attachment>();

  /**
   * @param ctx - owning context.
   * @param id - object id.
   * @param requesterId - PCI requester id (`bus << 8 | devfn`).
   */
  constructor(
    readonly ctx: IommufdContext,
    readonly id: number,
    readonly requesterId: number,
  ) {}
}

/** One (device, PASID) → HWPT attachment (a paging or a nested HWPT). */
export interface Attachment {
  /** The device. */
  readonly device: IommufdDevice;
  /** The PASID, or `NO_PASID`. */
  readonly pasid: number;
  /** The domain. */
  readonly hwpt: Hwpt | NestedHwpt;
}

/**
 * A vIOMMU (`IOMMU_VIOMMU_ALLOC`): the VM-visible IOMMU instance on a nesting-parent HWPT, whose
 * second stage translates guest-physical to host-physical addresses for every nested HWPT on it.
 */
export class Viommu {
  /** vDEVICEs by virtual device id. */
  readonly vdevices = new Map<number, Vdevice>();
  /** Nested HWPTs on it. */
  readonly nested = new Set<NestedHwpt>();

  /**
   * @param ctx - owning context.
   * @param id - object id.
   * @param parent - the nesting parent (its tables are the second stage).
   */
  constructor(
    readonly ctx: IommufdContext,
    readonly id: number,
    readonly parent: Hwpt,
  ) {}
}

/** A vDEVICE (`IOMMU_VDEVICE_ALLOC`): the guest's id for a physical device behind a vIOMMU. */
export interface Vdevice {
  /** Object id. */
  readonly id: number;
  /** The vIOMMU. */
  readonly viommu: Viommu;
  /** The physical device. */
  readonly device: IommufdDevice;
  /** The virtual device id the guest uses (e.g. its virtual BDF / RID). */
  readonly virtualId: number;
}

/**
 * A nested HWPT (`IOMMU_HWPT_ALLOC` with `IOMMU_HWPT_DATA_VTD_S1`): the guest's first-stage table
 * pointer — a guest-physical address inside guest RAM — over the vIOMMU's second stage (PGTT
 * nested). The guest's tables are the guest's: the host neither copies nor rewrites them.
 */
export class NestedHwpt {
  /** Attachments translating through it. */
  readonly attachments = new Set<Attachment>();

  /**
   * @param ctx - owning context.
   * @param id - object id.
   * @param viommu - the vIOMMU it belongs to.
   * @param domainId - its domain id (tags its IOTLB entries).
   * @param firstStageTable - guest-physical address of the guest's 4-level first-stage table.
   */
  constructor(
    readonly ctx: IommufdContext,
    readonly id: number,
    readonly viommu: Viommu,
    readonly domainId: number,
    readonly firstStageTable: number,
  ) {}
}
