/**
 * Queued invalidation: the hardware side of the invalidation queue (IQA/IQH/IQT). A write of the
 * tail register makes the unit fetch and execute every descriptor from the head to the tail, in
 * order and synchronously (so a wait descriptor completes at once). A bad descriptor stops the
 * queue with FSTS.IQE and IQERCD.IQEI, the head left on it, until software clears IQE.
 *
 * @module
 */
import type { PhysicalMemory } from "../physical-memory.js";
import { VTD_IQEI } from "./abi.js";
import { applyInvalidation, decodeInvalidation } from "./invalidation.js";
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
