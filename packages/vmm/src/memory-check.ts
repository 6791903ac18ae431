import type { PhysicalMemory } from "@liveupdate/core";
import type { WorkloadMark } from "./guest/dma-workload.js";
import { DIGEST_BLOCK, RamDigest } from "./ram-digest.js";
import type { Vm } from "./vm.js";

/** The three digests of one VM's memory check. */
export interface MemoryCheckResult {
  /** Digest when the check began. */
  readonly before: string;
  /** Digest now. */
  readonly after: string;
  /** `before` with what the devices' completions say they wrote applied. */
  readonly expected: string;
}

/**
 * Proves that a VM's memory came through an update bit-identical apart from what its devices
 * wrote. {@link VmMemoryCheck.begin} digests the RAM, keeps a copy of the blocks the devices write
 * and where each device stands; {@link VmMemoryCheck.finish} — once the devices are quiesced
 * ({@link Vmm.quiesce}) — digests the RAM again and recomputes the expected digest from the copy,
 * the devices' completion counts and the guest's model of its ring. Any byte the update changed
 * (a lost page, a poisoned extent, DMA through a wrong table) or a descriptor lost, repeated or
 * faulted makes `after` differ from `expected`.
 */
export class VmMemoryCheck {
  private constructor(
    private readonly vm: Vm,
    private readonly digest: RamDigest,
    private readonly saved: ReadonlyMap<number, Uint8Array>,
    private readonly marks: readonly WorkloadMark[],
  ) {}

  /** Starts a check of `vm` (its devices may be running). */
  static begin(vm: Vm, memory: PhysicalMemory): VmMemoryCheck {
    const extents = vm.ram.extents();
    const digest = RamDigest.of(memory, extents);
    const saved = new Map<number, Uint8Array>();
    for (const d of vm.devices) {
      for (const range of d.workload.writtenRanges()) {
        const first = Math.floor(range.gpa / DIGEST_BLOCK);
        const last = Math.floor((range.gpa + range.length - 1) / DIGEST_BLOCK);
        for (let b = first; b <= last; b++)
          if (!saved.has(b)) saved.set(b, vm.ram.read(b * DIGEST_BLOCK, DIGEST_BLOCK));
      }
    }
    return new VmMemoryCheck(
      vm,
      digest,
      saved,
      vm.devices.map((d) => d.workload.mark()),
    );
  }

  /** Finishes the check: call it with the VM's devices quiesced. */
  finish(memory: PhysicalMemory): MemoryCheckResult {
    const blocks = new Map<number, Uint8Array>();
    for (const [b, bytes] of this.saved) blocks.set(b, bytes.slice());
    this.vm.devices.forEach((d, i) => {
      for (const w of d.workload.predictedWrites(this.marks[i]!, d.workload.mark())) {
        for (let at = 0; at < w.bytes.length; ) {
          const gpa = w.gpa + at;
          const b = Math.floor(gpa / DIGEST_BLOCK);
          const offset = gpa - b * DIGEST_BLOCK;
          const n = Math.min(w.bytes.length - at, DIGEST_BLOCK - offset);
          blocks.get(b)!.set(w.bytes.subarray(at, at + n), offset);
          at += n;
        }
      }
    });
    return {
      before: this.digest.toString(),
      after: RamDigest.of(memory, this.vm.ram.extents()).toString(),
      expected: this.digest.withBlocks(blocks).toString(),
    };
  }
}
