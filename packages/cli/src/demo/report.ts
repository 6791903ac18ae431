/**
 * The report of `liveupdate demo`: what `--json` prints, `--out DIR` writes as `report.json` and
 * `--report FILE.html` renders. Field names are part of the product's interface (the issue that
 * specified the demo names them); add fields, never rename them.
 *
 * @module
 */

/** A phase of one update on its timeline. */
export type DemoPhaseName = "brownout" | "blackout";

/** The version a driver (or FLB) wrote and the target read in one update. */
export interface DemoNegotiated {
  /** Driver or FLB name. */
  readonly name: string;
  /** Version the old kernel wrote. */
  readonly written: number;
  /** Version the new kernel read (its native version, after migration). */
  readonly read: number;
}

/** One VM's memory check: bit-identical apart from what its devices wrote. */
export interface DemoVmReport {
  /** VM name (also its LUO session name). */
  readonly name: string;
  /** Guest RAM in bytes. */
  readonly memoryBytes: number;
  /** Digest of the RAM when the update started (`sha256:` + hex). */
  readonly checksumBefore: string;
  /** Digest of the RAM after the update, devices drained. */
  readonly checksumAfter: string;
  /** Digest recomputed from `checksumBefore`'s content and the devices' completion records. */
  readonly checksumExpected: string;
  /** BDFs of its passthrough devices. */
  readonly devices: readonly string[];
  /** Whether the guest programs its own IOMMU (nested translation through a vIOMMU). */
  readonly viommu: boolean;
}

/** DMA figures over every device of every VM (descriptors completed per phase). */
export interface DemoDmaReport {
  /** Descriptors completed during brownout. */
  readonly completedBrownout: number;
  /** Descriptors completed during blackout (old kernel frozen, kexec, new kernel booting). */
  readonly completedBlackout: number;
  /** Descriptors completed after the update. */
  readonly completedAfter: number;
  /** IOMMU faults (translation faults of the devices' requests). */
  readonly faults: number;
  /** Requests that went untranslated (translation off). */
  readonly untranslated: number;
}

/** Interrupt figures over every device. */
export interface DemoInterruptReport {
  /** MSI-X messages the devices raised. */
  readonly raised: number;
  /** Delivered to a handler (on time or late, after the new kernel rewired the vector). */
  readonly delivered: number;
  /** Lost. Must be 0. */
  readonly lost: number;
  /** Merged into an interrupt already latched for the same vector (one IRR bit). */
  readonly coalesced: number;
  /** Still latched when the report was taken. */
  readonly pending: number;
}

/** Time and state of one driver (or FLB) in one update. */
export interface DemoDriverReport {
  /** Driver or FLB name. */
  readonly name: string;
  /** Its hooks' time in blackout (freeze, serialize at freeze, restore, decode), ns. */
  readonly blackoutNs: number;
  /** Its hooks' time in brownout (prepare, serialize at prepare), ns. */
  readonly brownoutNs: number;
  /** Objects (and FLB instances) that went through the update. */
  readonly objects: number;
  /** Serialized state bytes handed over. */
  readonly bytes: number;
}

/** One hook invocation on the timeline of an update. */
export interface DemoSpan {
  /** Driver or FLB name. */
  readonly driver: string;
  /** Object group: the session (VM) name, or `flb` for shared state. */
  readonly group: string;
  /** Hook (`prepare`, `serialize`, `freeze`, `restore`, …, or `encode`/`decode`). */
  readonly hook: string;
  /** The phase it ran in. */
  readonly phase: DemoPhaseName;
  /** Start, ns from the update's start (prepare). */
  readonly startNs: number;
  /** Duration, ns. */
  readonly durationNs: number;
}

/** The timeline of one update. */
export interface DemoTimeline {
  /** Phases, ns from the update's start. */
  readonly phases: ReadonlyArray<{
    readonly name: DemoPhaseName;
    readonly startNs: number;
    readonly endNs: number;
  }>;
  /** Every hook invocation. */
  readonly spans: readonly DemoSpan[];
}

/** One check of the demo, with its figure. */
export interface DemoCheck {
  /** Stable name (`memory`, `dma-blackout`, `iommu-faults`, `interrupts`, `resets`, …). */
  readonly name: string;
  /** Whether it held. */
  readonly ok: boolean;
  /** What was measured, one line. */
  readonly detail: string;
}

/** One update of the run (a chain has several). */
export interface DemoUpdateReport {
  /** Build the update started from. */
  readonly from: string;
  /** Build it went to. */
  readonly to: string;
  /** Brownout, ns. */
  readonly brownoutNs: number;
  /** Blackout, ns (freeze → VMs resumed). */
  readonly blackoutNs: number;
  /**
   * Of the blackout, the host time spent emulating the devices at its preemption points (ns): the
   * cost of the emulation, not of the update — a real device works in parallel with the kernel.
   */
  readonly deviceEmulationNs: number;
  /** Bytes handed over. */
  readonly handoverBytes: number;
  /** Versions per driver. */
  readonly negotiated: readonly DemoNegotiated[];
  /** Per driver. */
  readonly drivers: readonly DemoDriverReport[];
  /** Hook spans and phases. */
  readonly timeline: DemoTimeline;
}

/** Why the run failed before its checks (a refused or cancelled update). */
export interface DemoFailure {
  /** The typed error's stable code. */
  readonly code: string;
  /** Its message. */
  readonly message: string;
  /** Where it happened (`prepare`, `freeze`, `boot`, …). */
  readonly stage: string;
  /** Whether the old kernel is intact and its VMs still run. */
  readonly oldKernelIntact: boolean;
}

/**
 * The whole report. For a chain of updates (`--updates N`) `from` is the first build and `to` the
 * last, `blackoutNs`/`brownoutNs` are the longest of the chain, `handoverBytes`, `negotiated` and
 * `drivers` are the last update's, and `dma` and `interrupts` count the whole run.
 */
export interface DemoReport {
  /** PASS when every check held. */
  readonly result: "PASS" | "FAIL";
  /** First build. */
  readonly from: string;
  /** Last build. */
  readonly to: string;
  /** Seed of the run. */
  readonly seed: number;
  /** Longest blackout, ns. */
  readonly blackoutNs: number;
  /** Longest brownout, ns. */
  readonly brownoutNs: number;
  /** Bytes handed over (last update). */
  readonly handoverBytes: number;
  /** Versions negotiated per driver (last update). */
  readonly negotiated: readonly DemoNegotiated[];
  /** Per VM. */
  readonly vms: readonly DemoVmReport[];
  /** DMA figures. */
  readonly dma: DemoDmaReport;
  /** Interrupt figures. */
  readonly interrupts: DemoInterruptReport;
  /** Function-level resets of passthrough devices during the run. Must be 0. */
  readonly resets: number;
  /** Per driver (last update). */
  readonly drivers: readonly DemoDriverReport[];
  /** Every update of the run, in order. */
  readonly updates: readonly DemoUpdateReport[];
  /** The checks. */
  readonly checks: readonly DemoCheck[];
  /** Set when an update was refused or cancelled. */
  readonly failure?: DemoFailure;
}
