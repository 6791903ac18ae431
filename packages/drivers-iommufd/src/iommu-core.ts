import {
  type FlbFreezeContext,
  type FlbPrepareContext,
  type FlbRestoreContext,
  type FlbSerializeContext,
  hex,
  Kernel,
  LiveUpdateFlb,
  type OnFlbFreeze,
  type OnFlbPrepare,
  type OnFlbRestore,
  type OnFlbSerialize,
  type PhysAddr,
  type PreserveApi,
  VTD_REG,
  VTD_ROOT_ENTRY_SIZE,
  type VtdIommu,
} from "@liveupdate/core";
import { IommufdTableFormatError, IommufdTableNotPreservedError, IommuNotRestoredError } from "./errors.js";
import type { IommufdContext } from "./iommufd/objects.js";
import { IommuLiveupdateSchema, type IommuLiveupdateV1Value } from "./schema.js";
import { VtdContextTables } from "./vtd/context-tables.js";
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
@LiveUpdateFlb({ schema: IommuLiveupdateSchema })
export class IommuCore
  implements
    OnFlbPrepare,
    OnFlbFreeze,
    OnFlbSerialize<IommuLiveupdateV1Value>,
    OnFlbRestore<IommuLiveupdateV1Value>
{
  /** Zeroed 4 KiB pages from this kernel's page allocator. */
  readonly pages: TablePageSource;
  private tablesValue: VtdContextTables | undefined;
  private readonly owners = new Map<number, IommufdContext>();
  private readonly usedDomainIds = new Set<number>();
  private nextDomainId = 1;
  private readonly preservedHere = new Set<PhysAddr>();
  /** True once the tables of a previous kernel were adopted (a restored boot). */
  adopted = false;

  /** @param kernel - the running kernel (memory, the IOMMU, page allocator, reboot). */
  constructor(readonly kernel: Kernel) {
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
   * handed over, which this kernel must adopt first.
   *
   * @throws {@link IommuNotRestoredError} while a previous kernel's tables are not adopted yet.
   */
  get tables(): VtdContextTables {
    if (this.tablesValue !== undefined) return this.tablesValue;
    const iommu = this.iommu;
    if (iommu.translationEnabled) {
      throw new IommuNotRestoredError(
        "translation is on with a previous kernel's tables: retrieve the preserved iommufd objects first",
        { driver: "iommu-liveupdate", rootTable: hex(this.hardwareRoot()) },
      );
    }
    const root = this.pages.alloc();
    iommu.setRootTable(root);
    iommu.invalidate({ kind: "context-global" });
    iommu.invalidate({ kind: "pasid-cache-global" });
    iommu.invalidate({ kind: "iotlb-global" });
    iommu.enableTranslation(true);
    this.tablesValue = new VtdContextTables(this.kernel.machine.memory, iommu, this.pages, root);
    return this.tablesValue;
  }

  /** The root table address RTADDR holds. */
  private hardwareRoot(): PhysAddr {
    return Number(this.iommu.readRegister(VTD_REG.RTADDR) & ~0xfffn);
  }

  // ---- domain ids and device ownership -----------------------------------------------------------

  /** Hands out an unused domain id (1..65535), as `ida_alloc_range(&iommu->domain_ida, ...)`. */
  allocateDomainId(): number {
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

  /** Records that `ctx` owns `rid` (or that nobody does). */
  setOwner(rid: number, ctx: IommufdContext | undefined): void {
    if (ctx === undefined) this.owners.delete(rid);
    else this.owners.set(rid, ctx);
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

  /** The root table's physical address and the allocator. */
  onSerialize(_ctx: FlbSerializeContext): IommuLiveupdateV1Value {
    return { root_table_phys: BigInt(this.tables.root), next_domain_id: this.nextDomainId };
  }

  /**
   * New kernel: the hardware must still translate through the handed-over root table, and the root
   * table and every context table it points to must be pages preserved for this FLB. Nothing is
   * written to the unit or to the tables.
   *
   * @throws {@link IommufdTableNotPreservedError} or {@link IommufdTableFormatError} naming the field.
   */
  onRestore(state: IommuLiveupdateV1Value, ctx: FlbRestoreContext): void {
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
    const memory = this.kernel.machine.memory;
    const contextTables = new Map<number, PhysAddr>();
    for (let bus = 0; bus < 256; bus++) {
      for (let half = 0; half < 2; half++) {
        const q = memory.readU64(root + bus * VTD_ROOT_ENTRY_SIZE + half * 8);
        if (q === 0n) continue;
        const page = Number(q & ~0xfffn);
        const field = `root[${bus}].${half === 0 ? "lower" : "upper"}`;
        if ((q & 0xffen) !== 0n || (q & 1n) === 0n)
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
    const tables = new VtdContextTables(memory, this.iommu, this.pages, root);
    for (const [key, page] of contextTables) {
      ctx.restoreFolio(page, 0);
      tables.adoptContextTable(key, page);
    }
    this.tablesValue = tables;
    this.nextDomainId = state.next_domain_id;
    this.adopted = true;
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
