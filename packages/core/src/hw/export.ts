import { writeFileSync } from "node:fs";
import { hex } from "../common/errors.js";
import type { VtdIommuState } from "./iommu/state.js";
import type { InterruptCountsSnapshot } from "./irq/counters.js";
import type { Machine } from "./machine.js";
import { formatBdf } from "./pci/bdf.js";
import type { PciFunction, PciFunctionCounters } from "./pci/function.js";
import type { PhaseCounts, UpdatePhase } from "./scheduler/phase.js";
import type { PreemptionPoint } from "./scheduler/preemption.js";

/** Bytes of config space exported per function: the header and capabilities (extended space is all zero here). */
export const EXPORTED_CONFIG_BYTES = 256;

/** One PCI function in {@link HardwareState}. */
export interface PciFunctionState {
  /** `0000:bb:dd.f`. */
  readonly bdf: string;
  /** Requester id (`bus << 8 | device << 3 | function`), what the IOMMU's tables are indexed by. */
  readonly requesterId: number;
  /** Vendor id. */
  readonly vendorId: number;
  /** Device id. */
  readonly deviceId: number;
  /** The first {@link EXPORTED_CONFIG_BYTES} bytes of config space as lower-case hex, byte 0 first. */
  readonly config: string;
  /** Memory BARs: index, programmed address (hex), size in bytes. */
  readonly bars: ReadonlyArray<{ readonly index: number; readonly address: string; readonly size: number }>;
  /** Command register: memory space and bus master. */
  readonly command: { readonly memorySpace: boolean; readonly busMaster: boolean };
  /** MSI-X table entries (address hex, data, mask, pending). */
  readonly msix: ReadonlyArray<{ address: string; data: number; masked: boolean; pending: boolean }>;
  /** Resets and DMA figures. */
  readonly counters: Readonly<PciFunctionCounters>;
  /** Interrupt accounting. */
  readonly interrupts: InterruptCountsSnapshot;
  /** Machine time (ns) the scheduler gave the function, per update phase. */
  readonly ranNs: Readonly<PhaseCounts> | undefined;
  /** The device model's own registers and figures (e.g. the DMA engine's). */
  readonly device: Readonly<Record<string, unknown>>;
}

/**
 * The documented JSON of a machine's hardware state, next to the memory image of
 * `exportMemoryImage`: with both, an independent program can walk the IOMMU tables exactly as the
 * hardware does (start at `iommu.rootTable` in scalable mode, index by a function's `requesterId`)
 * and check each device's work. Addresses are `0x…` hex strings; counts are numbers.
 */
export interface HardwareState {
  /** Always `"liveupdate-hardware-v1"`. */
  readonly format: "liveupdate-hardware-v1";
  /** Machine clock (ns). */
  readonly clockNs: number;
  /** The update phase device work is being counted in. */
  readonly updatePhase: UpdatePhase;
  /** The firmware memory map. */
  readonly memoryMap: ReadonlyArray<{ readonly base: string; readonly size: string; readonly type: string }>;
  /** The IOMMU's registers, root table, counters and fault records. */
  readonly iommu: VtdIommuState;
  /** Every PCI function, by requester id. */
  readonly pci: readonly PciFunctionState[];
  /** Wired vectors and messages latched for unwired ones. */
  readonly interrupts: {
    readonly wired: readonly number[];
    readonly latched: ReadonlyArray<{ readonly vector: number; readonly source: string }>;
  };
  /** Scheduler settings and how often each preemption point was reached. */
  readonly scheduler: {
    readonly seed: number;
    readonly stress: boolean;
    readonly preemptions: Readonly<Record<PreemptionPoint, number>>;
  };
}

/**
 * The machine's hardware state as plain JSON data (see {@link HardwareState}).
 *
 * @example
 * ```ts
 * const state = exportHardwareState(machine);
 * state.pci[0].requesterId; // index into the IOMMU's root and context tables
 * ```
 */
export function exportHardwareState(machine: Machine): HardwareState {
  return {
    format: "liveupdate-hardware-v1",
    clockNs: machine.clock.now(),
    updatePhase: machine.updatePhase,
    memoryMap: machine.memoryMap.regions.map((r) => ({ base: hex(r.base), size: hex(r.size), type: r.type })),
    iommu: machine.iommu.exportState(),
    pci: machine.pci.list().map((fn) => functionState(machine, fn)),
    interrupts: { wired: machine.interrupts.wiredVectors(), latched: machine.interrupts.latchedMessages() },
    scheduler: {
      seed: machine.scheduler.seed,
      stress: machine.scheduler.stress,
      preemptions: machine.scheduler.preemptions(),
    },
  };
}

/** Writes {@link exportHardwareState} as pretty-printed JSON to `path`. */
export function exportHardwareStateFile(machine: Machine, path: string): void {
  writeFileSync(path, `${JSON.stringify(exportHardwareState(machine), null, 2)}\n`);
}

function functionState(machine: Machine, fn: PciFunction): PciFunctionState {
  const config = Buffer.from(fn.config.bytes.subarray(0, EXPORTED_CONFIG_BYTES)).toString("hex");
  return {
    bdf: formatBdf(fn.address),
    requesterId: fn.requesterId,
    vendorId: fn.spec.vendorId,
    deviceId: fn.spec.deviceId,
    config,
    bars: fn.spec.bars.map((b) => ({ index: b.index, address: hex(fn.barAddress(b.index)), size: b.size })),
    command: { memorySpace: fn.memorySpaceEnabled, busMaster: fn.busMasterEnabled },
    msix: fn.msixEntries().map((e) => ({ ...e, address: hex(e.address) })),
    counters: { ...fn.counters },
    interrupts: fn.interruptCounters.snapshot(),
    ranNs: machine.scheduler.stats(fn.name)?.ranNs,
    device: fn.deviceState(),
  };
}
