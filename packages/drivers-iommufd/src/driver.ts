import {
  type CanPreserve,
  hex,
  Kernel,
  LiveUpdateDriver,
  Luo,
  type OnCancel,
  type OnPrepare,
  type OnRestore,
  type OnSerialize,
  PhaseGuard,
  type PrepareContext,
  parseBdf,
  type RestoreContext,
  requesterIdOf,
  type SerializeContext,
} from "@liveupdate/core";
import { type GuestmemFile, GuestmemfsDriver } from "@liveupdate/guestmemfs";
import {
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITABLE,
  IOVA_LIMIT,
  NO_PASID,
  PASID_LIMIT,
  RID_PASID,
} from "./abi.js";
import {
  IommufdBusyError,
  IommufdExistsError,
  IommufdInvalidArgumentError,
  IommufdNotFoundError,
} from "./errors.js";
import { IommuCore } from "./iommu-core.js";
import { checkMapRequest, mapArea, mapIntoAll, pageAligned } from "./iommufd/areas.js";
import { FilePins } from "./iommufd/file-pins.js";
import { flushNested } from "./iommufd/flush-nested.js";
import {
  type Attachment,
  Hwpt,
  type HwptOptions,
  Ioas,
  IommufdContext,
  IommufdDevice,
  type IovaArea,
  NestedHwpt,
  type Vdevice,
  Viommu,
} from "./iommufd/objects.js";
import { pasidEntryOf } from "./iommufd/pasid-entry.js";
import { preservedPages, serializeContext } from "./iommufd/serialize.js";
import { adoptContext } from "./restore/adopt.js";
import { IommufdSchema, type IommufdV2Value } from "./schema.js";
import { flushIotlbRange } from "./vtd/flush.js";
import { SecondStageTable } from "./vtd/second-stage.js";

/** A request to map a file range (`IOMMU_IOAS_MAP_FILE`). */
export interface MapFileRequest {
  /** Where in the IOAS (4 KiB aligned). */
  readonly iova: number;
  /** The guestmemfs file. */
  readonly file: GuestmemFile;
  /** Offset in the file (4 KiB aligned; default 0). */
  readonly offset?: number;
  /** Bytes (4 KiB aligned). */
  readonly length: number;
  /** `IOMMU_IOAS_MAP_*` flags (default readable and writable). */
  readonly flags?: number;
}

const ctxOf = (o: { ctx: IommufdContext }) => o.ctx;

// #region declaration
/**
 * The iommufd driver: contexts (`/dev/iommu`), IOASes, paging HWPTs and device attachments by BDF
 * and PASID, over the emulated VT-d unit in scalable mode. It builds the root, context and PASID
 * structures and the second-stage tables itself, in pages of the kernel's page allocator, and
 * flushes the caches as the hardware requires. A context preserved in a LUO session keeps its
 * tables **in place** across kexec: every table page is preserved and the next kernel adopts the
 * tables — same domain ids, no rewrite, translation never off — after walking them to check that
 * they map nothing but the guestmemfs memory the handover lists.
 */
@LiveUpdateDriver({ schema: IommufdSchema, flbs: [IommuCore] })
export class IommufdDriver
  implements
    CanPreserve,
    OnPrepare<IommufdContext>,
    OnSerialize<IommufdContext, IommufdV2Value>,
    OnCancel<IommufdContext>,
    OnRestore<IommufdContext, IommufdV2Value>
{
  /**
   * Receives its collaborators by constructor injection, from this boot's container.
   *
   * @param kernel - the running kernel.
   * @param core - the IOMMU core (FLB).
   * @param gm - guestmemfs (the memory areas map; restored first).
   * @param luo - the orchestrator (where mapped files are preserved).
   */
  constructor(
    readonly kernel: Kernel,
    readonly core: IommuCore,
    readonly gm: GuestmemfsDriver,
    readonly luo: Luo,
  ) {}
  // #endregion declaration

  // #region objects
  /** Opens a context (`open("/dev/iommu")`). */
  open(): IommufdContext {
    return new IommufdContext(new FilePins(this.gm));
  }

  /** Allocates an IOAS (`IOMMU_IOAS_ALLOC`). Refused (EBUSY) on a preserved context during an update. */
  @PhaseGuard({ brownout: "refuse", description: "allocate an IOAS" })
  ioasAlloc(ctx: IommufdContext): Ioas {
    this.live(ctx);
    const ioas = new Ioas(ctx, ctx.allocateId());
    ctx.ioas.set(ioas.id, ioas);
    return ioas;
  }

  /**
   * Allocates a paging HWPT on `ioas` (`IOMMU_HWPT_ALLOC`): a domain id and a fresh top table, with
   * every area of the IOAS mapped into it.
   */
  @PhaseGuard({ brownout: "refuse", target: ctxOf, description: "allocate a paging HWPT (domain)" })
  hwptAlloc(ioas: Ioas, options: HwptOptions = {}): Hwpt {
    this.live(ioas.ctx);
    const table = new SecondStageTable(this.kernel.machine.memory, this.core.pages);
    const hwpt = new Hwpt(
      ioas.ctx,
      ioas.ctx.allocateId(),
      ioas,
      this.core.allocateDomainId(),
      table,
      options.largePages ?? true,
      options.dirtyTracking ?? false,
    );
    hwpt.nestParent = options.nestParent ?? false;
    for (const area of ioas.areas.areas) mapArea(table, area, hwpt.largePages);
    ioas.hwpts.add(hwpt);
    ioas.ctx.hwpts.set(hwpt.id, hwpt);
    return hwpt;
  }

  /** Destroys a HWPT without attachments (EBUSY otherwise): frees its tables and its domain id. */
  @PhaseGuard({ brownout: "refuse", target: ctxOf, description: "destroy a HWPT" })
  hwptDestroy(hwpt: Hwpt): void {
    this.live(hwpt.ctx);
    if (hwpt.attachments.size > 0 || hwpt.viommus.size > 0)
      throw new IommufdBusyError(`HWPT ${hwpt.id} has attached devices or vIOMMUs`, { hwpt: hwpt.id });
    this.core.qi.invalidate({ kind: "iotlb-domain", domainId: hwpt.domainId });
    hwpt.table.destroy();
    this.core.releaseDomainId(hwpt.domainId);
    hwpt.ioas.hwpts.delete(hwpt);
    hwpt.ctx.hwpts.delete(hwpt.id);
  }

  /** Enables or disables dirty tracking (`IOMMU_HWPT_SET_DIRTY_TRACKING`). Allowed in brownout: re-serialized at freeze. */
  @PhaseGuard({ brownout: "dirty", target: ctxOf, description: "enable or disable dirty tracking" })
  setDirtyTracking(hwpt: Hwpt, enabled: boolean): void {
    this.live(hwpt.ctx);
    hwpt.dirtyTracking = enabled;
  }

  /**
   * Binds the PCI function at `bdf` (`"0000:00:04.0"` or a requester id) to `ctx`
   * (`VFIO_DEVICE_BIND_IOMMUFD`). EBUSY when another context has it.
   */
  @PhaseGuard({ brownout: "refuse", description: "bind a device" })
  bind(ctx: IommufdContext, bdf: string | number): IommufdDevice {
    this.live(ctx);
    const rid = typeof bdf === "number" ? bdf : requesterIdOf(parseBdf(bdf));
    if (!Number.isInteger(rid) || rid < 0 || rid > 0xffff)
      throw new IommufdInvalidArgumentError(`requester id ${rid} is not 16 bits`, { rid });
    if (!this.core.canBind(rid))
      throw new IommufdBusyError(
        `device ${hex(rid)} is bound to another context (or kept for one not retrieved yet)`,
        {
          rid: hex(rid),
        },
      );
    const device = new IommufdDevice(ctx, ctx.allocateId(), rid);
    ctx.devices.set(device.id, device);
    this.core.setOwner(rid, ctx);
    return device;
  }

  /** Unbinds a device without attachments (EBUSY otherwise). */
  @PhaseGuard({ brownout: "refuse", target: ctxOf, description: "unbind a device" })
  unbind(device: IommufdDevice): void {
    this.live(device.ctx);
    if (device.attachments.size > 0)
      throw new IommufdBusyError(`device ${device.id} is attached`, { device: device.id });
    device.ctx.devices.delete(device.id);
    this.core.setOwner(device.requesterId, undefined);
  }

  /**
   * Attaches (`IOMMU_HWPT_ATTACH`, or replaces an attachment) the device's requests without PASID
   * (`pasid` omitted, through RID_PASID) or with `pasid` (1..8191) to `hwpt`: writes the PASID
   * entry (second-stage, the domain's id and top table) and flushes what it replaced.
   */
  @PhaseGuard({ brownout: "refuse", target: ctxOf, description: "attach a device (PASID) to a HWPT" })
  attach(device: IommufdDevice, hwpt: Hwpt | NestedHwpt, pasid?: number): void {
    this.live(device.ctx);
    if (hwpt.ctx !== device.ctx)
      throw new IommufdInvalidArgumentError("device and HWPT belong to different contexts", {
        device: device.id,
        hwpt: hwpt.id,
      });
    const key = this.pasidKey(pasid);
    const old = device.attachments.get(key);
    if (old !== undefined) old.hwpt.attachments.delete(old);
    this.core.tables.setPasidEntry(
      device.requesterId,
      key === NO_PASID ? RID_PASID : key,
      pasidEntryOf(hwpt),
    );
    const attachment: Attachment = { device, pasid: key, hwpt };
    device.attachments.set(key, attachment);
    hwpt.attachments.add(attachment);
  }

  /** Detaches (device, PASID): its DMA is blocked from then on. ENOENT when not attached. */
  @PhaseGuard({ brownout: "refuse", target: ctxOf, description: "detach a device (PASID)" })
  detach(device: IommufdDevice, pasid?: number): void {
    this.live(device.ctx);
    const key = this.pasidKey(pasid);
    const a = device.attachments.get(key);
    if (a === undefined)
      throw new IommufdNotFoundError(`device ${device.id} is not attached at that PASID`, {
        device: device.id,
        pasid,
      });
    this.core.tables.clearPasidEntry(device.requesterId, key === NO_PASID ? RID_PASID : key);
    device.attachments.delete(key);
    a.hwpt.attachments.delete(a);
  }
  /** Allocates a vIOMMU on a nesting-parent HWPT (`IOMMU_VIOMMU_ALLOC`). EINVAL for another HWPT. */
  @PhaseGuard({ brownout: "refuse", target: ctxOf, description: "allocate a vIOMMU on a nesting parent" })
  viommuAlloc(parent: Hwpt): Viommu {
    this.live(parent.ctx);
    if (!parent.nestParent)
      throw new IommufdInvalidArgumentError(`HWPT ${parent.id} is not a nesting parent`, { hwpt: parent.id });
    const viommu = new Viommu(parent.ctx, parent.ctx.allocateId(), parent);
    parent.viommus.add(viommu);
    parent.ctx.viommus.set(viommu.id, viommu);
    return viommu;
  }

  /** Gives a bound device its virtual id behind `viommu` (`IOMMU_VDEVICE_ALLOC`). EEXIST for a used id. */
  @PhaseGuard({ brownout: "refuse", target: ctxOf, description: "allocate a vDEVICE" })
  vdeviceAlloc(viommu: Viommu, device: IommufdDevice, virtualId: number): Vdevice {
    this.live(viommu.ctx);
    if (
      device.ctx !== viommu.ctx ||
      !Number.isSafeInteger(virtualId) ||
      virtualId < 0 ||
      virtualId >= 2 ** 32
    )
      throw new IommufdInvalidArgumentError("bad device or virtual id", { device: device.id, virtualId });
    if (viommu.vdevices.has(virtualId))
      throw new IommufdExistsError(`virtual id ${virtualId} is taken`, { viommu: viommu.id, virtualId });
    const vdevice: Vdevice = { id: viommu.ctx.allocateId(), viommu, device, virtualId };
    viommu.vdevices.set(virtualId, vdevice);
    return vdevice;
  }

  /**
   * Allocates a nested HWPT on `viommu` (`IOMMU_HWPT_ALLOC`, `IOMMU_HWPT_DATA_VTD_S1`): the guest's
   * first-stage table at guest-physical `firstStageTable` (4 KiB aligned, below 2^48), with its own
   * domain id.
   */
  @PhaseGuard({
    brownout: "refuse",
    target: ctxOf,
    description: "allocate a nested HWPT (guest first stage)",
  })
  nestedAlloc(viommu: Viommu, firstStageTable: number): NestedHwpt {
    this.live(viommu.ctx);
    if (!pageAligned(firstStageTable) || firstStageTable >= IOVA_LIMIT)
      throw new IommufdInvalidArgumentError("the first-stage table must be a 4 KiB-aligned guest address", {
        firstStageTable,
      });
    const nested = new NestedHwpt(
      viommu.ctx,
      viommu.ctx.allocateId(),
      viommu,
      this.core.allocateDomainId(),
      firstStageTable,
    );
    viommu.nested.add(nested);
    viommu.ctx.nested.set(nested.id, nested);
    return nested;
  }

  /**
   * The guest changed its first-stage tables (`IOMMU_HWPT_INVALIDATE` on a nested HWPT): flushes the
   * PASID-based IOTLB of every attachment. Not phase-guarded: the guest's own tables are not
   * preserved state, and a guest must be able to change its mappings at any time.
   */
  nestedInvalidate(nested: NestedHwpt): void {
    this.live(nested.ctx);
    flushNested(this.core.qi, nested);
  }
  // #endregion objects

  // #region mappings
  /**
   * Maps a range of a guestmemfs file at `iova` (`IOMMU_IOAS_MAP_FILE`) into the IOAS and every
   * HWPT on it. EEXIST when the range overlaps an area; EINVAL for unaligned or out-of-range
   * arguments. Refused (EBUSY) on a preserved context during brownout and blackout: the IOVA map
   * handed over is fixed at prepare, as upstream makes a preserved IOAS immutable.
   */
  @PhaseGuard({ brownout: "refuse", target: ctxOf, description: "map a guestmemfs file range" })
  map(ioas: Ioas, request: MapFileRequest): IovaArea {
    this.live(ioas.ctx);
    const offset = request.offset ?? 0;
    const flags = request.flags ?? IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITABLE;
    checkMapRequest(request.iova, request.file, offset, request.length, flags);
    return this.insertArea(ioas, {
      iova: request.iova,
      length: request.length,
      flags,
      file: request.file,
      offset,
    });
  }

  /**
   * Unmaps every area inside `[iova, iova + length)` (`IOMMU_IOAS_UNMAP`): clears the leaves in
   * every HWPT, flushes their IOTLB ranges, unpins the files. Areas must lie wholly inside the
   * range (EINVAL); ENOENT when nothing is mapped there.
   *
   * @returns the bytes unmapped.
   */
  @PhaseGuard({ brownout: "refuse", target: ctxOf, description: "unmap an IOVA range" })
  unmap(ioas: Ioas, iova: number, length: number): number {
    this.live(ioas.ctx);
    if (!pageAligned(iova) || !pageAligned(length) || length === 0)
      throw new IommufdInvalidArgumentError("IOVA and length must be 4 KiB aligned", { iova, length });
    const areas = ioas.areas.within(iova, length);
    if (areas.length === 0)
      throw new IommufdNotFoundError(`nothing is mapped in [${hex(iova)}, ${hex(iova + length)})`, {
        iova,
        length,
      });
    const split = areas.find((a) => a.iova < iova || a.iova + a.length > iova + length);
    if (split !== undefined)
      throw new IommufdInvalidArgumentError(`the range cuts the area at ${hex(split.iova)}`, {
        iova,
        length,
        area: hex(split.iova),
      });
    let bytes = 0;
    const iommu = this.core.qi;
    for (const area of areas) {
      for (const hwpt of ioas.hwpts) {
        hwpt.table.unmap(area.iova, area.length);
        flushIotlbRange(iommu, hwpt.domainId, area.iova, area.length);
        // Nested translations cache the combined result under the nested domain: flush them too.
        for (const v of hwpt.viommus) for (const n of v.nested) flushNested(iommu, n);
      }
      ioas.areas.remove(area);
      ioas.ctx.pins.release(area.file);
      bytes += area.length;
    }
    return bytes;
  }

  /**
   * Copies the mappings of `[srcIova, srcIova + length)` of `src` to `dstIova` of `dst`
   * (`IOMMU_IOAS_COPY`): the same file ranges, with `flags` (default: as in the source). The
   * source range must be fully mapped (ENOENT otherwise).
   */
  @PhaseGuard({
    brownout: "refuse",
    target: (_src: Ioas, _i: number, _l: number, dst: Ioas) => dst.ctx,
    description: "copy mappings between IOASes",
  })
  copy(src: Ioas, srcIova: number, length: number, dst: Ioas, dstIova: number, flags?: number): IovaArea[] {
    this.live(src.ctx);
    this.live(dst.ctx);
    if (!pageAligned(srcIova) || !pageAligned(dstIova) || !pageAligned(length) || length === 0)
      throw new IommufdInvalidArgumentError("IOVAs and length must be 4 KiB aligned", {
        srcIova,
        dstIova,
        length,
      });
    const pieces: IovaArea[] = [];
    let at = srcIova;
    for (const area of src.areas.within(srcIova, length)) {
      if (area.iova > at) break;
      const end = Math.min(area.iova + area.length, srcIova + length);
      pieces.push({
        iova: dstIova + (at - srcIova),
        length: end - at,
        flags: flags ?? area.flags,
        file: area.file,
        offset: area.offset + (at - area.iova),
      });
      at = end;
    }
    if (at < srcIova + length)
      throw new IommufdNotFoundError(`IOVA ${hex(at)} of the source is not mapped`, { srcIova, length, at });
    for (const p of pieces) checkMapRequest(p.iova, p.file, p.offset, p.length, p.flags);
    const clash = pieces.find((p) => dst.areas.overlapping(p.iova, p.length) !== undefined);
    if (clash !== undefined)
      throw new IommufdExistsError(`IOVA ${hex(clash.iova)} of the destination is mapped`, {
        dstIova,
        length,
      });
    return pieces.map((p) => this.insertArea(dst, p));
  }
  // #endregion mappings

  /**
   * Closes a context: detaches and unbinds its devices, then drops every domain whole (its tables
   * freed, its IOTLB flushed by domain) and unpins every area — one pass, not one unmap per area.
   */
  @PhaseGuard({ brownout: "refuse", description: "close the context" })
  close(ctx: IommufdContext): void {
    if (ctx.closed) return;
    for (const device of ctx.devices.values()) {
      for (const a of [...device.attachments.values()])
        this.detach(device, a.pasid === NO_PASID ? undefined : a.pasid);
      this.unbind(device);
    }
    for (const ioas of ctx.ioas.values()) {
      for (const hwpt of [...ioas.hwpts]) this.hwptDestroy(hwpt);
      for (const area of ioas.areas.areas) ctx.pins.release(area.file);
    }
    ctx.ioas.clear();
    ctx.closed = true;
  }

  // #region hooks
  /** Only open iommufd contexts are ours. */
  canPreserve(object: unknown): boolean {
    return object instanceof IommufdContext && !object.closed;
  }

  /**
   * Brownout: checks every area maps a guestmemfs file preserved in the same session, then
   * preserves every table page of every HWPT and the PASID structures of every bound device. The
   * tables are not copied: the unit keeps translating through them.
   */
  onPrepare(ctx: IommufdContext, p: PrepareContext): void {
    for (const page of preservedPages(ctx, this.core, this.luo, p)) p.preserveFolio(page, 0);
    ctx.preserved = true;
  }

  /** The context as a native (v2) value: IOVA map, HWPTs (top table, level, domain id), devices. */
  onSerialize(ctx: IommufdContext, s: SerializeContext): IommufdV2Value {
    return serializeContext(ctx, this.core, this.luo, s);
  }

  /** Cancel: the devices are no longer kept attached at reboot (the LUO unpreserves the pages). */
  onCancel(ctx: IommufdContext): void {
    ctx.preserved = false;
  }

  /**
   * New kernel: walks the preserved tables and PASID structures and checks them against the
   * handover and against the guestmemfs files of the session, then adopts them as they are.
   * A handover that fails any check blocks the context's devices and throws a typed error.
   */
  onRestore(state: IommufdV2Value, r: RestoreContext): IommufdContext {
    const ctx = this.open();
    adoptContext(ctx, state, r, { kernel: this.kernel, core: this.core, gm: this.gm, luo: this.luo });
    return ctx;
  }
  // #endregion hooks

  private insertArea(ioas: Ioas, area: IovaArea): IovaArea {
    if (ioas.areas.overlapping(area.iova, area.length) !== undefined)
      throw new IommufdExistsError(`IOVA range at ${hex(area.iova)} overlaps a mapped area`, {
        iova: hex(area.iova),
        length: area.length,
      });
    ioas.ctx.pins.acquire(area.file, area.offset + area.length, (area.flags & IOMMU_IOAS_MAP_WRITABLE) !== 0);
    ioas.areas.insert(area);
    mapIntoAll(ioas.hwpts, area);
    return area;
  }

  private pasidKey(pasid: number | undefined): number {
    if (pasid === undefined) return NO_PASID;
    if (!Number.isInteger(pasid) || pasid < 1 || pasid >= PASID_LIMIT)
      throw new IommufdInvalidArgumentError(`PASID ${pasid} is not in 1..${PASID_LIMIT - 1}`, { pasid });
    return pasid;
  }

  private live(ctx: IommufdContext): void {
    if (ctx.closed) throw new IommufdNotFoundError("the iommufd context is closed", {});
  }
}
