import { hex } from "../../common/errors.js";
import type { DmaFaultReason, DmaRemapper, DmaRequest, DmaTranslation } from "../dma.js";
import type { PhysicalMemory } from "../physical-memory.js";
import { VTD_FAULT_RECORDS, VTD_GCMD, VTD_HOST_ADDRESS_WIDTH, VTD_PGTT, VTD_REG, VTD_RTADDR } from "./abi.js";
import { VtdFaultLog } from "./faults.js";
import { applyInvalidation, type VtdInvalidation } from "./invalidation.js";
import { processInvalidationQueue } from "./invalidation-queue.js";
import { type AddressSpace, type CachedContext, VtdCaches } from "./iotlb.js";
import { VtdRegisters } from "./registers.js";
import type { VtdCounters, VtdIommuState } from "./state.js";
import { type Leaf, VtdWalker, WALK_FAULTS, WalkFault } from "./walker.js";

/** How to build a {@link VtdIommu}. */
export interface VtdIommuOptions {
  /** Most IOTLB entries kept per address space (DID, PGTT, PASID); default 65536. */
  readonly iotlbEntries?: number;
  /** Most faults the software log keeps (counters stay exact); default 1024. */
  readonly faultLogCapacity?: number;
}

const PASID_LIMIT = 2 ** 20;
const PASS_THROUGH_CHUNK = 2 * 1024 * 1024;

/** One shared result object per fault reason: a fault allocates nothing. */
const FAULT_RESULTS = new Map<DmaFaultReason, DmaTranslation>();
function faultResult(reason: DmaFaultReason): DmaTranslation {
  let r = FAULT_RESULTS.get(reason);
  if (r === undefined) {
    r = Object.freeze({ ok: false, reason });
    FAULT_RESULTS.set(reason, r);
  }
  return r;
}

/**
 * An emulated Intel VT-d remapping unit in scalable mode. It reads the root, context, PASID and
 * paging structures from physical memory in the architectural format, caches them (context cache,
 * PASID cache, IOTLB) until software invalidates them, and records faults. Its registers are
 * machine state: they survive kexec because the machine does.
 *
 * Software programs it as a driver would: {@link VtdIommu.writeRegister} /
 * {@link VtdIommu.readRegister} at the architectural offsets (see `VTD_REG`), with descriptors in an
 * invalidation queue in memory; typed shortcuts do the same register writes
 * ({@link VtdIommu.setRootTable}, {@link VtdIommu.enableTranslation}) or apply an invalidation
 * directly ({@link VtdIommu.invalidate}).
 *
 * @example
 * ```ts
 * const iommu = machine.iommu;
 * iommu.setRootTable(rootTablePhys); // RTADDR with TTM = scalable, then GCMD.SRTP
 * iommu.enableTranslation();
 * const t = iommu.translate({ requesterId: 0x0100, pasid: undefined, iova: 0x10_0000, write: true });
 * ```
 */
export class VtdIommu implements DmaRemapper {
  /** The fault log (software records, counters per requester id, fault recording registers). */
  readonly faults: VtdFaultLog;
  private readonly registers: VtdRegisters;
  private readonly caches: VtdCaches;
  private readonly walker: VtdWalker;
  private translations = 0;
  private untranslated = 0;

  /**
   * @param memory - the physical memory the unit reads its tables from.
   * @param options - cache and log sizes.
   */
  constructor(
    private readonly memory: PhysicalMemory,
    options: VtdIommuOptions = {},
  ) {
    this.faults = new VtdFaultLog(options.faultLogCapacity ?? 1024);
    this.registers = new VtdRegisters(this.faults);
    this.caches = new VtdCaches(options.iotlbEntries ?? 65536);
    this.walker = new VtdWalker(memory);
  }

  // ---- register interface ----------------------------------------------------------------------

  /**
   * Reads a register at its architectural offset (`VTD_REG`; fault recording registers at
   * `VTD_REG.FRCD + 16 * i` and `+ 8`).
   *
   * @throws {@link VtdRegisterError} for an offset that is not a register of this unit.
   */
  readRegister(offset: number): bigint {
    return this.registers.read(offset);
  }

  /**
   * Writes a register at its architectural offset, with the side effects hardware has: GCMD
   * enables translation and queued invalidation and latches RTADDR (SRTP); IQT makes the unit
   * execute the invalidation queue; CCMD with ICC and IOTLB_REG with IVT invalidate at once
   * (register-based invalidation); RW1C status bits clear.
   *
   * @throws {@link VtdRegisterError} for an offset that is not a writable register of this unit.
   */
  writeRegister(offset: number, value: bigint | number): void {
    const regs = this.registers;
    const effect = regs.write(offset, BigInt(value));
    if (effect === "queue-tail") processInvalidationQueue(regs, this.memory, this.caches);
    else if (effect !== "none") {
      const inv = effect === "context-command" ? regs.takeContextCommand() : regs.takeIotlbCommand();
      if (inv !== undefined) applyInvalidation(this.caches, inv);
    }
  }

  /** Sets GCMD bit `bit` to `on`, keeping the other enables as GSTS reports them (as drivers do). */
  private command(bit: number, on: boolean): void {
    const status = this.registers.gsts() & ((1 << VTD_GCMD.TE) | (1 << VTD_GCMD.QIE));
    const value = on ? status | (2 ** bit) : status & ~(2 ** bit);
    this.writeRegister(VTD_REG.GCMD, value >>> 0);
  }

  /**
   * Programs RTADDR with `rootTable` and TTM = scalable mode, then latches it (GCMD.SRTP). No cache
   * is flushed (CAP.ESRTPS = 0): software invalidates the context cache, PASID cache and IOTLB.
   */
  setRootTable(rootTable: number): void {
    this.writeRegister(VTD_REG.RTADDR, BigInt(rootTable) | (BigInt(VTD_RTADDR.TTM_SCALABLE) << 10n));
    const status = this.registers.gsts() & ((1 << VTD_GCMD.TE) | (1 << VTD_GCMD.QIE));
    this.writeRegister(VTD_REG.GCMD, (status | (2 ** VTD_GCMD.SRTP)) >>> 0);
  }

  /** Sets or clears GCMD.TE. */
  enableTranslation(on = true): void {
    this.command(VTD_GCMD.TE, on);
  }

  /**
   * Programs the invalidation queue (IQA: base, 256-bit descriptors, 2^`sizeOrder` pages; IQT = 0)
   * and enables it (GCMD.QIE).
   */
  enableQueuedInvalidation(queueBase: number, sizeOrder = 0): void {
    this.writeRegister(VTD_REG.IQT, 0);
    this.writeRegister(VTD_REG.IQA, BigInt(queueBase) | (1n << 11n) | BigInt(sizeOrder & 7));
    this.command(VTD_GCMD.QIE, true);
  }

  /** True while GSTS.TES is set. */
  get translationEnabled(): boolean {
    return this.registers.translationEnabled;
  }

  /**
   * Applies one invalidation at once, with the same effect as submitting its descriptor to the
   * queue followed by a wait descriptor (a shortcut for tests and simple drivers).
   */
  invalidate(invalidation: VtdInvalidation): void {
    applyInvalidation(this.caches, invalidation);
  }

  // ---- translation -----------------------------------------------------------------------------

  /** Translates one DMA request through the caches (walking memory on a miss); faults are recorded. */
  translate(request: DmaRequest): DmaTranslation {
    this.translations++;
    const iova = request.iova;
    const regs = this.registers;
    if (!regs.translationEnabled) {
      this.untranslated++;
      return { ok: true, phys: iova, contiguous: 4096 - (iova % 4096), untranslated: true };
    }
    const rid = request.requesterId;
    const caches = this.caches;
    const requested = request.pasid;
    const key = requested === undefined ? rid : rid + 65536 * (requested + 1);
    let space = caches.lastSpace;
    if (space === undefined || caches.lastKey !== key) {
      const s = this.resolveSpace(request);
      if (s instanceof WalkFault) return this.fault(request, s, this.lastFpd);
      space = s;
      caches.lastKey = key;
      caches.lastSpace = s;
    }
    if (space.pgtt === VTD_PGTT.PASS_THROUGH) return this.passThrough(request, space);
    const tlb = space.tlb;
    let leaf = tlb.lookup(iova);
    if (leaf === undefined) {
      caches.counters.iotlbMisses++;
      const l = this.walkLeaf(space, iova, request.write);
      if (l instanceof WalkFault) return this.fault(request, l, space.faultProcessingDisable);
      tlb.insert(iova, l);
      leaf = l;
    } else {
      caches.counters.iotlbHits++;
    }
    if (request.write ? !leaf.write : !leaf.read) {
      return this.fault(
        request,
        request.write ? WALK_FAULTS.noWrite : WALK_FAULTS.noRead,
        space.faultProcessingDisable,
      );
    }
    const offset = iova % leaf.size;
    return { ok: true, phys: leaf.phys + offset, contiguous: leaf.size - offset, untranslated: false };
  }

  /** FPD of the structures read by the last failed address-space resolution. */
  private lastFpd = false;

  /** Context cache, then PASID cache (walking memory on misses): the request's address space. */
  private resolveSpace(request: DmaRequest): AddressSpace | WalkFault {
    const regs = this.registers;
    const rid = request.requesterId;
    this.lastFpd = false;
    let context = this.caches.contexts[rid];
    if (context === undefined) {
      if (regs.tableMode !== VTD_RTADDR.TTM_SCALABLE) return WALK_FAULTS.invalidTtm;
      const c = this.walker.readContext(regs.rootTable, rid);
      this.caches.counters.contextMisses++;
      if (c instanceof WalkFault) return c;
      context = { ...c, domainId: undefined };
      this.caches.contexts[rid] = context;
    }
    this.lastFpd = context.faultProcessingDisable;
    let pasid = request.pasid;
    if (pasid === undefined) pasid = context.ridPasid;
    else if (!context.pasidEnable) return WALK_FAULTS.pasidDisabled;
    else if (pasid >= PASID_LIMIT) return WALK_FAULTS.pasidTooLarge;
    const space = this.caches.spaces.get(VtdCaches.spaceKey(rid, pasid));
    return space ?? this.fetchSpace(rid, context, pasid, request.pasid === undefined);
  }

  /**
   * The full hardware walk for `request`, bypassing and not filling the caches and recording no
   * fault: what a miss costs (the benchmark times it), and a reference for tools and tests.
   */
  walk(request: DmaRequest): DmaTranslation {
    const regs = this.registers;
    const iova = request.iova;
    if (!regs.translationEnabled)
      return { ok: true, phys: iova, contiguous: 4096 - (iova % 4096), untranslated: true };
    if (regs.tableMode !== VTD_RTADDR.TTM_SCALABLE) return faultResult(WALK_FAULTS.invalidTtm.reason);
    const c = this.walker.readContext(regs.rootTable, request.requesterId);
    if (c instanceof WalkFault) return faultResult(c.reason);
    const pasid = request.pasid ?? c.ridPasid;
    if (request.pasid !== undefined && !c.pasidEnable) return faultResult(WALK_FAULTS.pasidDisabled.reason);
    if (pasid >= PASID_LIMIT) return faultResult(WALK_FAULTS.pasidTooLarge.reason);
    const p = this.walker.readPasid(c, pasid);
    if (p instanceof WalkFault) return faultResult(p.reason);
    if (p.pgtt === VTD_PGTT.PASS_THROUGH) {
      if (iova >= 2 ** VTD_HOST_ADDRESS_WIDTH) return faultResult(WALK_FAULTS.beyondWidth.reason);
      return {
        ok: true,
        phys: iova,
        contiguous: PASS_THROUGH_CHUNK - (iova % PASS_THROUGH_CHUNK),
        untranslated: false,
      };
    }
    const leaf = this.walkLeafOf(
      p.pgtt,
      p.secondStageTable,
      p.firstStageTable,
      p.noExecuteEnable,
      iova,
      request.write,
    );
    if (leaf instanceof WalkFault) return faultResult(leaf.reason);
    if (request.write ? !leaf.write : !leaf.read)
      return faultResult(request.write ? "write-to-read-only" : "read-not-permitted");
    const offset = iova % leaf.size;
    return { ok: true, phys: leaf.phys + offset, contiguous: leaf.size - offset, untranslated: false };
  }

  private fetchSpace(
    rid: number,
    context: CachedContext,
    pasid: number,
    viaRidPasid: boolean,
  ): AddressSpace | WalkFault {
    this.caches.counters.pasidMisses++;
    const p = this.walker.readPasid(context, pasid);
    if (p instanceof WalkFault) return p;
    const space: AddressSpace = {
      ...p,
      faultProcessingDisable: p.faultProcessingDisable || context.faultProcessingDisable,
      requesterId: rid,
      pasid,
      tlb: this.caches.bucket(p.domainId, p.pgtt, pasid),
    };
    this.caches.spaces.set(VtdCaches.spaceKey(rid, pasid), space);
    if (viaRidPasid) context.domainId = p.domainId;
    return space;
  }

  private walkLeaf(space: AddressSpace, iova: number, write: boolean): Leaf | WalkFault {
    return this.walkLeafOf(
      space.pgtt,
      space.secondStageTable,
      space.firstStageTable,
      space.noExecuteEnable,
      iova,
      write,
    );
  }

  private walkLeafOf(
    pgtt: number,
    secondStage: number,
    firstStage: number,
    noExecuteEnable: boolean,
    iova: number,
    write: boolean,
  ): Leaf | WalkFault {
    if (pgtt === VTD_PGTT.SECOND_STAGE) return this.walker.walkSecondStage(secondStage, iova, write);
    if (pgtt === VTD_PGTT.FIRST_STAGE)
      return this.walker.walkFirstStage(firstStage, iova, write, noExecuteEnable, undefined);
    return this.walker.walkFirstStage(firstStage, iova, write, noExecuteEnable, secondStage);
  }

  private passThrough(request: DmaRequest, space: AddressSpace): DmaTranslation {
    const iova = request.iova;
    if (iova >= 2 ** VTD_HOST_ADDRESS_WIDTH)
      return this.fault(request, WALK_FAULTS.beyondWidth, space.faultProcessingDisable);
    return {
      ok: true,
      phys: iova,
      contiguous: PASS_THROUGH_CHUNK - (iova % PASS_THROUGH_CHUNK),
      untranslated: false,
    };
  }

  private fault(request: DmaRequest, f: WalkFault, suppressed: boolean): DmaTranslation {
    this.faults.record(
      f.reason,
      f.code,
      request.requesterId,
      request.pasid,
      request.iova,
      request.write,
      suppressed,
    );
    return faultResult(f.reason);
  }

  // ---- observation -----------------------------------------------------------------------------

  /** Counters since power-on. */
  counters(): VtdCounters {
    const c = this.caches.counters;
    return {
      translations: this.translations,
      untranslated: this.untranslated,
      faults: this.faults.total,
      iotlbHits: c.iotlbHits,
      iotlbMisses: c.iotlbMisses,
      contextMisses: c.contextMisses,
      pasidMisses: c.pasidMisses,
      walkReads: this.walker.reads,
      iotlbEntries: this.caches.iotlbEntries(),
    };
  }

  /** The unit's state as documented JSON ({@link VtdIommuState}). */
  exportState(): VtdIommuState {
    const regs = this.registers;
    const faultRecords = [];
    for (let i = 0; i < VTD_FAULT_RECORDS; i++) {
      const [low, high] = this.faults.frcd(i);
      faultRecords.push({ index: i, low: hex(low), high: hex(high) });
    }
    const faultsByRequester: Record<string, number> = {};
    for (const [rid, n] of this.faults.countsByRequester())
      faultsByRequester[rid.toString(16).padStart(4, "0")] = n;
    const modes = ["legacy", "scalable", "reserved", "abort-dma"] as const;
    return {
      model: "intel-vt-d",
      registers: regs.hexDump(),
      rootTable: hex(regs.rootTable),
      translationTableMode: modes[regs.tableMode]!,
      translationEnabled: regs.translationEnabled,
      faultRecords,
      faultsByRequester,
      counters: this.counters(),
    };
  }
}
