/**
 * Queued invalidation: the hardware side of the invalidation queue (IQA/IQH/IQT), and a driver-side
 * helper that fills it. A write of the
 * tail register makes the unit fetch and execute every descriptor from the head to the tail, in
 * order and synchronously (so a wait descriptor completes at once). A bad descriptor stops the
 * queue with FSTS.IQE and IQERCD.IQEI, the head left on it, until software clears IQE.
 *
 * @module
 */
import type { PhysicalMemory } from "../physical-memory.js";
import { VTD_FSTS, VTD_GCMD, VTD_IQA, VTD_IQEI, VTD_REG } from "./abi.js";
import { writeQwords } from "./entries.js";
import { VtdQueueError } from "./errors.js";
import {
  applyInvalidation,
  decodeInvalidation,
  encodeInvalidation,
  type VtdInvalidation,
} from "./invalidation.js";
import type { VtdCaches } from "./iotlb.js";
import type { VtdRegisters } from "./registers.js";

/**
 * Runs the queue from IQH to IQT.
 *
 * @returns descriptors executed.
 */
export function processInvalidationQueue(
  regs: VtdRegisters,
  memory: PhysicalMemory,
  caches: VtdCaches,
): number {
  if (!regs.queueEnabled || regs.queueError) return 0;
  const width = regs.descriptorBytes();
  const size = regs.queueBytes();
  const stop = (info: number): number => {
    regs.queueError = true;
    regs.queueErrorInfo = info;
    return done;
  };
  let done = 0;
  if (regs.queueTail >= size) return stop(VTD_IQEI.INVALID_TAIL);
  if (regs.queueTail % width !== 0) return stop(VTD_IQEI.TAIL_MISALIGNED);
  while (regs.queueHead !== regs.queueTail) {
    const at = regs.queueBase() + regs.queueHead;
    if (!memory.map.contains(at, width)) return stop(VTD_IQEI.FETCH_ERROR);
    const inv = decodeInvalidation(memory.readU64(at), memory.readU64(at + 8));
    if (inv === "invalid-type") return stop(VTD_IQEI.INVALID_TYPE);
    if (inv === "reserved-bits") return stop(VTD_IQEI.RESERVED);
    // PASID-granular descriptors exist only in the 256-bit format.
    if (width === 16 && inv.kind.startsWith("pasid-")) return stop(VTD_IQEI.INVALID_WIDTH);
    if (inv.kind === "wait") {
      if (inv.statusAddress !== undefined && memory.map.contains(inv.statusAddress, 4)) {
        memory.writeU32(inv.statusAddress, inv.statusData ?? 0);
      }
      if (inv.interrupt === true) {
        regs.waitComplete = true;
        regs.invalidationInterruptPending = true;
      }
    } else {
      applyInvalidation(caches, inv);
    }
    regs.queueHead = (regs.queueHead + width) % size;
    done++;
  }
  return done;
}

/**
 * Driver side of the queue, for kernels and tests: writes `invalidations` as 256-bit descriptors at
 * the tail of the queue the registers describe (wrapping), then moves IQT once, which makes the unit
 * execute them. Only the register interface and memory are used, as a driver would.
 *
 * @throws {@link VtdQueueError} when queued invalidation is not enabled, the queue is stopped (IQE),
 *   it does not use 256-bit descriptors, or the descriptors do not fit the free entries.
 */
export function submitInvalidations(
  iommu: {
    readRegister(offset: number): bigint;
    writeRegister(offset: number, value: bigint | number): void;
  },
  memory: PhysicalMemory,
  invalidations: readonly VtdInvalidation[],
): void {
  const gsts = iommu.readRegister(VTD_REG.GSTS);
  if (((gsts >> BigInt(VTD_GCMD.QIE)) & 1n) === 0n)
    throw new VtdQueueError("queued invalidation is not enabled");
  if (((iommu.readRegister(VTD_REG.FSTS) >> BigInt(VTD_FSTS.IQE)) & 1n) === 1n) {
    throw new VtdQueueError("the queue is stopped by an invalidation queue error (FSTS.IQE)");
  }
  const iqa = iommu.readRegister(VTD_REG.IQA);
  if (((iqa >> BigInt(VTD_IQA.DW)) & 1n) === 0n)
    throw new VtdQueueError("the queue does not use 256-bit descriptors");
  const base = Number(iqa & ~0xfffn);
  const size = 4096 * 2 ** Number(iqa & BigInt(VTD_IQA.QS_MASK));
  const head = Number(iommu.readRegister(VTD_REG.IQH));
  let tail = Number(iommu.readRegister(VTD_REG.IQT));
  const free = (head - tail - 32 + size) % size;
  if (invalidations.length * 32 > free) {
    throw new VtdQueueError(`${invalidations.length} descriptors do not fit the ${free / 32} free entries`);
  }
  for (const inv of invalidations) {
    writeQwords(memory, base + tail, encodeInvalidation(inv));
    tail = (tail + 32) % size;
  }
  iommu.writeRegister(VTD_REG.IQT, tail);
}
