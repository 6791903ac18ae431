import {
  hex,
  type PhysAddr,
  type PhysicalMemory,
  submitInvalidations,
  VTD_FSTS,
  VTD_GCMD,
  VTD_REG,
  type VtdInvalidation,
  type VtdIommu,
} from "@liveupdate/core";
import { SMALL_PAGE } from "../abi.js";
import { IommuInvalidationError } from "../errors.js";
import type { TablePageSource } from "./page-source.js";

/** Bytes of one 256-bit descriptor. */
const DESCRIPTOR = 32;
/** Descriptors per batch: the queue page's entries, less the one the tail may never fill and the wait. */
const BATCH = SMALL_PAGE / DESCRIPTOR - 2;

/**
 * Where a driver sends invalidations: the unit's invalidation queue ({@link QueuedInvalidation}, what
 * the driver uses) or, for simple callers and tests, the unit itself (`VtdIommu.invalidate`).
 */
export interface Invalidator {
  /** Invalidates and waits until the unit has done it. */
  invalidate(invalidation: VtdInvalidation): void;
}

/** Submits `invalidations` together — one wait for all of them when `target` is a queue. */
export function invalidateAll(target: Invalidator, invalidations: readonly VtdInvalidation[]): void {
  if (target instanceof QueuedInvalidation) target.submit(invalidations);
  else for (const inv of invalidations) target.invalidate(inv);
}

/**
 * The driver side of VT-d queued invalidation, as Linux's `qi_submit_sync`: descriptors are written
 * into a 4 KiB queue page from the kernel's allocator, followed by an invalidation-wait descriptor
 * whose status write (a sequence number into a status word in a second page) says the unit is done;
 * then IQT is advanced and the status word checked.
 *
 * The queue is this kernel's own: IQA is a register, not memory to hand over. As Linux's
 * `intel_iommu_init_qi` does at boot, a queue a previous kernel left enabled is disabled (its head
 * has caught up with its tail: every submission waited) and this kernel's queue programmed — only
 * IQA, IQT and GCMD.QIE are written, never the root pointer, translation enable or any table, so a
 * kernel that adopts the previous kernel's tables still writes nothing the unit translates through.
 * The previous queue page was not preserved (it is poisoned like any free memory): the unit never
 * fetches from it, since nothing is queued there.
 */
export class QueuedInvalidation implements Invalidator {
  /** The queue page (IQA base; 128 descriptors of 256 bits). */
  readonly queue: PhysAddr;
  /** The page holding the wait descriptors' status word (offset 0). */
  readonly status: PhysAddr;
  /** Descriptors submitted, waits excluded. */
  descriptors = 0;
  /** Waits submitted (one per batch). */
  waits = 0;
  private sequence = 0;

  /**
   * Allocates the queue and status pages and programs the unit's queue (disabling one left enabled).
   *
   * @param iommu - the remapping unit.
   * @param memory - physical memory.
   * @param pages - where the two pages come from.
   */
  constructor(
    private readonly iommu: VtdIommu,
    private readonly memory: PhysicalMemory,
    pages: TablePageSource,
  ) {
    this.queue = pages.alloc();
    this.status = pages.alloc();
    const gsts = Number(iommu.readRegister(VTD_REG.GSTS));
    if ((gsts & (1 << VTD_GCMD.QIE)) !== 0) {
      // `dmar_disable_qi`: clear QIE, keep TE as it is (GCMD bits follow what is written).
      iommu.writeRegister(VTD_REG.GCMD, (gsts & (1 << VTD_GCMD.TE)) >>> 0);
    }
    iommu.enableQueuedInvalidation(this.queue, 0);
  }

  /** Submits one invalidation and waits for it. */
  invalidate(invalidation: VtdInvalidation): void {
    this.submit([invalidation]);
  }

  /**
   * Submits `invalidations` in order, each batch followed by a wait descriptor, and waits.
   *
   * @throws {@link IommuInvalidationError} when the unit stopped the queue (FSTS.IQE) or a wait did
   *   not complete; `VtdQueueError` when the queue cannot take the descriptors.
   */
  submit(invalidations: readonly VtdInvalidation[]): void {
    for (let at = 0; at < invalidations.length; at += BATCH) {
      const batch = invalidations.slice(at, at + BATCH);
      this.sequence = (this.sequence + 1) >>> 0;
      const wait: VtdInvalidation = { kind: "wait", statusAddress: this.status, statusData: this.sequence };
      submitInvalidations(this.iommu, this.memory, [...batch, wait]);
      this.descriptors += batch.length;
      this.waits++;
      const fsts = this.iommu.readRegister(VTD_REG.FSTS);
      if (
        ((fsts >> BigInt(VTD_FSTS.IQE)) & 1n) === 1n ||
        this.memory.readU32(this.status) !== this.sequence
      ) {
        throw new IommuInvalidationError("the invalidation queue did not complete the wait descriptor", {
          driver: "iommu-liveupdate",
          queue: hex(this.queue),
          iqh: hex(Number(this.iommu.readRegister(VTD_REG.IQH))),
          iqercd: hex(Number(this.iommu.readRegister(VTD_REG.IQERCD))),
        });
      }
    }
  }
}
