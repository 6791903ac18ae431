import type { DemoCheck, DemoDmaReport, DemoFailure, DemoInterruptReport, DemoVmReport } from "./report.js";

/** What the checks look at. */
export interface CheckInputs {
  /** Memory checks per VM. */
  readonly vms: readonly DemoVmReport[];
  /** DMA figures. */
  readonly dma: DemoDmaReport;
  /** Interrupt figures. */
  readonly interrupts: DemoInterruptReport;
  /** Resets during the run. */
  readonly resets: number;
  /** Whether every device went idle for the final measurement. */
  readonly quiesced: boolean;
  /** Descriptors each device completed during blackouts. */
  readonly perDeviceBlackout: readonly number[];
  /** Updates that reached the new kernel. */
  readonly updates: number;
  /** The cancelled or refused update, if any. */
  readonly failure?: DemoFailure;
}

/** The demo's verdicts, each with the figure it rests on. */
export function evaluateChecks(i: CheckInputs): DemoCheck[] {
  const bad = i.vms.filter((vm) => vm.checksumAfter !== vm.checksumExpected).map((vm) => vm.name);
  const stalled = i.perDeviceBlackout.filter((n) => n === 0).length;
  const n = i.interrupts;
  return [
    {
      name: "update",
      ok: i.failure === undefined,
      detail:
        i.failure === undefined
          ? `${i.updates} update(s) reached the new kernel`
          : `${i.failure.stage}: ${i.failure.code}${i.failure.oldKernelIntact ? " (old kernel intact, VMs running)" : ""}`,
    },
    {
      name: "memory",
      ok: bad.length === 0 && i.quiesced,
      detail:
        bad.length === 0
          ? `${i.vms.length} VM(s) bit-identical apart from their devices' writes${i.quiesced ? "" : " (devices did not go idle)"}`
          : `differs from the expected digest: ${bad.join(", ")}`,
    },
    {
      name: "dma-blackout",
      ok: i.failure !== undefined || (i.dma.completedBlackout > 0 && stalled === 0),
      detail: `${i.dma.completedBlackout} descriptors completed during blackout${stalled > 0 ? `; ${stalled} device(s) did none` : ""}`,
    },
    {
      name: "iommu-faults",
      ok: i.dma.faults === 0 && i.dma.untranslated === 0,
      detail: `${i.dma.faults} IOMMU faults, ${i.dma.untranslated} untranslated requests`,
    },
    {
      name: "interrupts",
      ok: n.lost === 0 && n.pending === 0 && n.delivered + n.coalesced === n.raised,
      detail: `${n.raised} raised, ${n.delivered} delivered, ${n.coalesced} coalesced, ${n.pending} pending, ${n.lost} lost`,
    },
    { name: "resets", ok: i.resets === 0, detail: `${i.resets} device resets` },
  ];
}
