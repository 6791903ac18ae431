import {
  type FlbFreezeContext,
  type FlbPrepareContext,
  type FlbRestoreContext,
  type FlbSerializeContext,
  hex,
  Kernel,
  LiveUpdateFlb,
  Luo,
  LuoFlbUnavailableError,
  type OnFlbFreeze,
  type OnFlbPrepare,
  type OnFlbRestore,
  type OnFlbSerialize,
  type PhysAddr,
  type PreserveApi,
  Timeline,
  VTD_REG,
  VTD_ROOT_ENTRY_SIZE,
  type VtdIommu,
} from "@liveupdate/core";
import {
  IommufdTableFormatError,
  IommufdTableNotPreservedError,
  IommuNotRestoredError,
  IommuStrayContextEntryError,
} from "./errors.js";
import type { IommufdContext } from "./iommufd/objects.js";
import { IOMMU_LU_DEVICES_LISTED, IommuLiveupdateSchema, type IommuLiveupdateV2Value } from "./schema.js";
import { contextTableKey, GLOBAL_FLUSH, VtdContextTables } from "./vtd/context-tables.js";
import { QueuedInvalidation } from "./vtd/invalidation-queue.js";
import { kernelPageSource, type TablePageSource } from "./vtd/page-source.js";

/** Domain ids are 16 bits; 0 is reserved (Linux's `FLPT_DEFAULT_DID` aside, DID 0 is never handed out). */
const DOMAIN_IDS = 0x10000;

/**
 * The IOMMU core of one boot (an FLB shared by every preserved iommufd context, compatible
 * `iommu-liveupdate-v1`): it owns the VT-d root and context tables, the domain-id allocator and
 * which context owns which device. Preserved with the first context, it hands over the root
 * table's physical address and the allocator; the next kernel checks the hardware still points
 * there and adopts the tables without reprogramming the unit.
 *
 * At reboot it tears down, as upstream does, every device whose context is not preserved: its
 * context entry is cleared and the caches flushed, so its DMA faults from then on. With no device
 * preserved at all, translation is switched off (`intel_iommu_shutdown`).
 */
// Serialized at freeze: the list of kept devices is final only once every user object is prepared.
// Lossy downgrades are allowed: v1 drops only the device list, a check a v1 reader cannot run anyway.
@LiveUpdateFlb({ schema: IommuLiveupdateSchema, serializeAt: "freeze", allowLossy: true })
export class IommuCore
  implements
    OnFlbPrepare,
    OnFlbFreeze,
    OnFlbSerialize<IommuLiveupdateV2Value>,
    OnFlbRestore<IommuLiveupdateV2Value>
{
  /** Zeroed 4 KiB pages from this kernel's page allocator. */
  readonly pages: TablePageSource;
  private tablesValue: VtdContextTables | undefined;
  private qiValue: QueuedInvalidation | undefined;
  private readonly owners = new Map<number, IommufdContext>();
  private readonly usedDomainIds = new Set<number>();
  private nextDomainId = 1;
  private readonly preservedHere = new Set<PhysAddr>();
  private readonly straysValue: IommuStrayContextEntryError[] = [];
  /**
   * Requester ids the previous kernel listed as kept and whose context is not adopted yet
   * (undefined: it listed none, or no update).
   */
  private keptDevices: Set<number> | undefined;
  /** True once the tables of a previous kernel were adopted (a restored boot). */
  adopted = false;

  /**
   * @param kernel - the running kernel (memory, the IOMMU, page allocator, reboot).
   * @param luo - its orchestrator (to restore this FLB on demand).
   */
  constructor(
    readonly kernel: Kernel,
    readonly luo: Luo,
  ) {
    this.pages = kernelPageSource(kernel);
    kernel.addRebootParticipant({
      name: "iommu",
      prepareReboot: () => {
        this.teardownUnpreserved();
        return { keep: [] };
      },
    });
  }

  /** The remapping unit. */
  get iommu(): VtdIommu {
    return this.kernel.machine.iommu;
  }

  /**
   * The root/context/PASID structures, set up on first use: a fresh root table, the caches
   * flushed, translation enabled — unless a previous kernel left translation on with its tables
   * handed over: then the first use adopts them (the FLB is restored on demand through
   * `Luo.flbIncoming`, before any iommufd context is retrieved).
   *
   * @throws {@link IommuNotRestoredError} when a previous kernel left translation on and the
   *   handover has no usable IOMMU core state (none, or released/failed: `cause` says which).
   */
  get tables(): VtdContextTables {
    if (this.tablesValue !== undefined) return this.tablesValue;
    const iommu = this.iommu;
    if (iommu.translationEnabled) {
      // A previous kernel left translation on: adopt its tables now, before any context is
      // retrieved, when the handover holds this FLB (upstream `liveupdate_flb_get_incoming()`).
      let cause: unknown;
      try {
        if (this.luo.flbIncoming(IommuCore) && this.tablesValue !== undefined) return this.tablesValue;
      } catch (error) {
        if (!(error instanceof LuoFlbUnavailableError)) throw error;
        cause = error;
      }
      throw new IommuNotRestoredError(
        "translation is on with a previous kernel's tables and no usable IOMMU core handover to adopt them",
        { driver: "iommu-liveupdate", rootTable: hex(this.hardwareRoot()) },
        { cause },
      );
    }
    const root = this.pages.alloc();
    iommu.setRootTable(root);
    this.qi.submit(GLOBAL_FLUSH);
    iommu.enableTranslation(true);
    this.tablesValue = new VtdContextTables(this.kernel.machine.memory, this.qi, this.pages, root);
    return this.tablesValue;
  }

  /**
   * This kernel's invalidation queue, set up on first use (every invalidation of the driver goes
   * through it, as `qi_submit_sync`): a fresh queue even on a restored boot — IQA is a register,
   * and Linux's `intel_iommu_init_qi` re-programs it at boot instead of adopting the old queue.
   */
  get qi(): QueuedInvalidation {
    this.qiValue ??= new QueuedInvalidation(this.iommu, this.kernel.machine.memory, this.pages);
    return this.qiValue;
  }

  /** The root table address RTADDR holds. */
  private hardwareRoot(): PhysAddr {
    return Number(this.iommu.readRegister(VTD_REG.RTADDR) & ~0xfffn);
  }

  // ---- domain ids and device ownership -----------------------------------------------------------

  /**
   * Hands out an unused domain id (1..65535), as `ida_alloc_range(&iommu->domain_ida, ...)`. The
   * tables are set up (or a previous kernel's adopted) first: its allocator and its ids come first.
   */
  allocateDomainId(): number {
    void this.tables;
    for (let n = 0; n < DOMAIN_IDS; n++) {
      const id = this.nextDomainId;
      this.nextDomainId = id + 1 >= DOMAIN_IDS ? 1 : id + 1;
      if (!this.usedDomainIds.has(id)) {
        this.usedDomainIds.add(id);
        return id;
      }
    }
    throw new IommuNotRestoredError("no domain id left", { driver: "iommu-liveupdate" });
  }

  /** Marks an adopted domain id used (it keeps its id across the update). */
  claimDomainId(id: number): boolean {
    if (this.usedDomainIds.has(id)) return false;
    this.usedDomainIds.add(id);
    return true;
  }

  /** Returns a domain id. */
  releaseDomainId(id: number): void {
    this.usedDomainIds.delete(id);
  }

  /** The context a device is bound to. */
  ownerOf(rid: number): IommufdContext | undefined {
    return this.owners.get(rid);
  }

  /**
   * Whether `rid` may be bound now: not bound, and not kept by the previous kernel for a preserved
   * context that is not retrieved yet (the tables are set up or adopted first).
   */
  canBind(rid: number): boolean {
    void this.tables;
    return !this.owners.has(rid) && this.keptDevices?.has(rid) !== true;
  }

  /** Records that `ctx` owns `rid` (or that nobody does). */
  setOwner(rid: number, ctx: IommufdContext | undefined): void {
    if (ctx === undefined) this.owners.delete(rid);
    else this.owners.set(rid, ctx);
    // A kept device is reserved until its context is adopted; from then on it is an ordinary one.
    this.keptDevices?.delete(rid);
  }

  // ---- live update -------------------------------------------------------------------------------

  /** Brownout: preserve the root table and every context table (preserved devices need theirs). */
  onPrepare(ctx: FlbPrepareContext): void {
    this.preserveCorePages(ctx);
  }

  /** Blackout: preserve context tables created during brownout. */
  onFreeze(ctx: FlbFreezeContext): void {
    this.preserveCorePages(ctx);
  }

  private preserveCorePages(api: PreserveApi): void {
    for (const page of this.tables.corePages()) {
      if (this.preservedHere.has(page)) continue;
      api.preserveFolio(page, 0);
      this.preservedHere.add(page);
    }
  }

  /** Cancel: the LUO unpreserves what was preserved; forget it here too. */
  onCancel(): void {
    this.preservedHere.clear();
  }

  /** The root table's physical address, the allocator and the devices kept attached (owned by preserved contexts). */
  onSerialize(_ctx: FlbSerializeContext): IommuLiveupdateV2Value {
    const devices: { rid: number }[] = [];
    for (const [rid, owner] of this.owners) if (owner.preserved) devices.push({ rid });
    devices.sort((a, b) => a.rid - b.rid);
    return {
      root_table_phys: BigInt(this.tables.root),
      next_domain_id: this.nextDomainId,
      flags: IOMMU_LU_DEVICES_LISTED,
      devices,
    };
  }

  /**
   * New kernel: the hardware must still translate through the handed-over root table, and the root
   * table and every context table it points to must be pages preserved for this FLB. Nothing is
   * written to the unit or to the tables — except to block what no preserved context owns: a
   * context entry present for a requester id the handover does not list, or a root entry of a bus
   * without listed devices that is malformed or points at memory nobody preserved, is cleared and
   * the caches flushed (globally: the old kernel's domain ids cannot be trusted to target a flush),
   * and reported in {@link IommuCore.strays} and as a timeline warning.
   *
   * @throws {@link IommufdTableNotPreservedError} or {@link IommufdTableFormatError} naming the field.
   */
  onRestore(state: IommuLiveupdateV2Value, ctx: FlbRestoreContext): void {
    const root = Number(state.root_table_phys);
    const where = { driver: ctx.flb, field: "root_table_phys", rootTable: hex(root) };
    const folios = new Set(ctx.folios.filter((f) => f.order === 0).map((f) => f.phys));
    if (!this.iommu.translationEnabled || this.hardwareRoot() !== root) {
      throw new IommufdTableFormatError("the IOMMU does not translate through the handed-over root table", {
        ...where,
        hardware: hex(this.hardwareRoot()),
        translationEnabled: this.iommu.translationEnabled,
      });
    }
    if (!folios.has(root))
      throw new IommufdTableNotPreservedError("the root table was not preserved by the IOMMU core", where);
    const listed = (state.flags & IOMMU_LU_DEVICES_LISTED) !== 0;
    const kept = new Set(state.devices.map((d) => d.rid));
    const keptHalves = new Set([...kept].map(contextTableKey));
    const memory = this.kernel.machine.memory;
    const strays: IommuStrayContextEntryError[] = [];
    const contextTables = new Map<number, PhysAddr>();
    for (let bus = 0; bus < 256; bus++) {
      for (let half = 0; half < 2; half++) {
        const slot = root + bus * VTD_ROOT_ENTRY_SIZE + half * 8;
        const q = memory.readU64(slot);
        if (q === 0n) continue;
        const page = Number(q & ~0xfffn);
        const field = `root[${bus}].${half === 0 ? "lower" : "upper"}`;
        const malformed = (q & 0xffen) !== 0n || (q & 1n) === 0n;
        if ((malformed || !folios.has(page)) && listed && !keptHalves.has(bus * 2 + half)) {
          // A bus no kept device is on: block it without reading what it points to.
          memory.writeU64(slot, 0n);
          strays.push(
            new IommuStrayContextEntryError(
              `root entry ${field} is present but no kept device is on bus ${bus}`,
              {
                ...where,
                field,
                table: hex(page),
              },
            ),
          );
          continue;
        }
        if (malformed)
          throw new IommufdTableFormatError(`root entry ${field} is malformed`, { ...where, field });
        if (!folios.has(page))
          throw new IommufdTableNotPreservedError(`root entry ${field} points to memory nobody preserved`, {
            ...where,
            field,
            table: hex(page),
          });
        contextTables.set(bus * 2 + half, page);
      }
    }
    ctx.restoreFolio(root, 0);
    const tables = new VtdContextTables(memory, this.qi, this.pages, root);
    for (const [key, page] of contextTables) {
      ctx.restoreFolio(page, 0);
      tables.adoptContextTable(key, page);
    }
    if (listed) {
      for (const rid of tables.presentContextEntries()) {
        if (kept.has(rid)) continue;
        tables.clearContextEntry(rid);
        strays.push(
          new IommuStrayContextEntryError(
            `the context entry of ${hex(rid)} is present but no preserved context owns it`,
            {
              ...where,
              field: "devices",
              rid: hex(rid),
            },
          ),
        );
      }
    }
    if (strays.length > 0) tables.flushAll();
    this.tablesValue = tables;
    this.nextDomainId = state.next_domain_id;
    this.keptDevices = listed ? kept : undefined;
    this.straysValue.push(...strays);
    const timeline = Timeline.of(this.kernel.machine);
    for (const stray of strays)
      timeline.record({
        kind: "warning",
        bootId: this.kernel.bootId,
        driver: ctx.flb,
        message: stray.message,
      });
    if (!listed)
      timeline.record({
        kind: "warning",
        bootId: this.kernel.bootId,
        driver: ctx.flb,
        message: `${ctx.compatible} lists no kept devices: stray context entries cannot be detected`,
      });
    this.adopted = true;
  }

  /**
   * Context and root entries of the previous kernel that no preserved context owned, blocked when
   * the root table was adopted (see {@link IommuStrayContextEntryError}).
   */
  get strays(): readonly IommuStrayContextEntryError[] {
    return this.straysValue;
  }

  /**
   * Whether the previous kernel handed `rid` over as kept attached for a context not adopted yet
   * (always true when its handover did not list devices, as a v1 one does not).
   */
  keptAcrossUpdate(rid: number): boolean {
    return this.keptDevices === undefined || this.keptDevices.has(rid);
  }

  /** At reboot: block every device whose context is not preserved (and switch off translation if none is). */
  private teardownUnpreserved(): void {
    const tables = this.tablesValue;
    if (tables === undefined) return;
    let kept = 0;
    for (const rid of [...tables.devices.keys()]) {
      if (this.owners.get(rid)?.preserved === true) kept++;
      else tables.blockDevice(rid, false);
    }
    if (kept === 0) this.iommu.enableTranslation(false);
  }
}
