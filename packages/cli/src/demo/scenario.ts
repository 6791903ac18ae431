import {
  bootLiveUpdateKernel,
  DmaEngine,
  type KernelBuild,
  LiveUpdateError,
  Machine,
  MiB,
  type NegotiationResult,
} from "@liveupdate/core";
import { type HostUpdated, updateHost, VmMemoryCheck, Vmm } from "@liveupdate/vmm";
import { evaluateChecks } from "./checks.js";
import { type DemoOptions, resolveDemoOptions } from "./options.js";
import type { DemoFailure, DemoReport, DemoUpdateReport, DemoVmReport } from "./report.js";
import { updateReportOf } from "./timeline.js";

/** What a demo run leaves: the report, and the machine and VMM for artifacts. */
export interface DemoRun {
  /** The report. */
  readonly report: DemoReport;
  /** The machine, after the run. */
  readonly machine: Machine;
  /** The VMM at the end (on the last kernel that ran). */
  readonly vmm: Vmm;
}

/** Turns of the VMM's loop before the first update and after each (machine time per turn: 50 µs). */
const SETTLE_TURNS = 8;
const TURN_NS = 50_000;

/**
 * The reference scenario of `liveupdate demo`: boot a host on build `from`, start VMs with
 * guestmemfs RAM, iommufd and one vfio-pci DMA engine each (busy the whole time; the last VM's
 * guest programs its own IOMMU through a vIOMMU), live-update to build `to` (a chain alternates
 * between the two builds), then verify: every VM's memory bit-identical apart from what its
 * devices wrote (recomputed from their completion records), DMA during every blackout with zero
 * IOMMU faults, no interrupt lost, no device reset. A cancelled or refused update ends the chain
 * with the old kernel running (reported as a failure, with the checks still run on the intact VMs).
 *
 * @throws {@link DemoOptionsError} for invalid options; typed errors of the new kernel when it
 *   cannot restore the handover.
 */
export function runDemo(options: DemoOptions = {}): DemoRun {
  const o = resolveDemoOptions(options);
  const total = 3 + o.updates;
  const progress = (done: number, step: string) => options.onProgress?.({ done, total, step });
  progress(0, `boot ${o.from.version} on ${o.memoryBytes / 2 ** 30} GiB`);
  const machine = new Machine({ memory: o.memoryBytes, scheduler: { seed: o.seed } });
  const engines = Array.from({ length: o.vms }, (_, i) => {
    const engine = new DmaEngine({ bandwidth: o.bandwidth });
    machine.pci.attach(engine, `00:${(4 + i).toString(16).padStart(2, "0")}.0`);
    return engine;
  });
  const cmdline = `kho=on guestmemfs=${(o.vms * o.vmMemoryBytes) / MiB}M`;
  const lk = bootLiveUpdateKernel(machine, {
    build: o.from,
    cmdline,
    seed: o.seed,
    luo: { serializeAt: o.serializeAt, ...(o.fault !== undefined ? { injectFault: o.fault } : {}) },
  });
  progress(1, `start ${o.vms} VMs of ${o.vmMemoryBytes / 2 ** 30} GiB`);
  let vmm = new Vmm(lk);
  engines.forEach((engine, i) => {
    vmm.createVm({
      name: `vm${i}`,
      memoryBytes: o.vmMemoryBytes,
      devices: [engine.name],
      viommu: i === o.vms - 1,
      seed: o.seed * 100 + i,
    });
  });
  for (let t = 0; t < SETTLE_TURNS; t++) vmm.step(TURN_NS);
  const baseline = engines.map((e) => ({ resets: e.counters.resets }));
  const faultsBefore = machine.iommu.faults.total;
  const checks = new Map(
    [...vmm.vms.values()].map((vm) => [vm.name, VmMemoryCheck.begin(vm, machine.memory)]),
  );
  const updates: DemoUpdateReport[] = [];
  let failure: DemoFailure | undefined;
  let build: KernelBuild = o.from;
  for (let u = 0; u < o.updates && failure === undefined; u++) {
    const target = u % 2 === 0 ? o.to : o.from;
    progress(2 + u, `update ${u + 1}/${o.updates}: ${build.version} → ${target.version}`);
    vmm.preserveAll();
    const emulatedBefore = blackoutEmulationNs(machine, engines);
    const last = u === o.updates - 1;
    const result = updateHost(vmm, {
      to: target,
      brownoutTurns: o.brownoutTurns,
      turnNs: TURN_NS,
      seed: o.seed + u + 1,
      beforeBoot: (handoff, m) => {
        if (last && handoff.bootData !== undefined) options.onHandoff?.(m, handoff.bootData);
      },
    });
    vmm = result.vmm;
    if (result.outcome === "cancelled") {
      const error = result.error;
      failure = {
        code: error instanceof LiveUpdateError ? error.code : "CANCELLED",
        message: error instanceof Error ? error.message : `cancelled at ${result.stage}`,
        stage: result.stage,
        oldKernelIntact:
          result.kernel.luo.phase === "NORMAL" && [...vmm.vms.values()].every((vm) => vm.running),
      };
      break;
    }
    const emulated = blackoutEmulationNs(machine, engines) - emulatedBefore;
    updates.push(reportOf(result, build.version, target.version, result.prepare.negotiation, emulated));
    build = target;
    const [lost] = result.vmm.failed.values();
    if (lost !== undefined) {
      const cause = lost.cause;
      failure = {
        code: cause instanceof LiveUpdateError ? cause.code : lost.code,
        message: lost.message,
        stage: "resume",
        oldKernelIntact: false,
      };
      break;
    }
    for (let t = 0; t < SETTLE_TURNS; t++) vmm.step(TURN_NS);
  }
  progress(2 + o.updates, "verify");
  const quiesced = vmm.quiesce();
  const vms: DemoVmReport[] = [...vmm.vms.values()].map((vm) => {
    const r = checks.get(vm.name)!.finish(machine.memory);
    return {
      name: vm.name,
      memoryBytes: vm.spec.memoryBytes,
      checksumBefore: r.before,
      checksumAfter: r.after,
      checksumExpected: r.expected,
      devices: vm.devices.map((d) => d.bdf),
      viommu: vm.spec.viommu === true,
    };
  });
  const sum = (f: (e: DmaEngine) => number) => engines.reduce((a, e) => a + f(e), 0);
  const dma = {
    completedBrownout: sum((e) => e.progress.descriptors.brownout),
    completedBlackout: sum((e) => e.progress.descriptors.blackout),
    completedAfter: sum((e) => e.progress.descriptors.after),
    faults: machine.iommu.faults.total - faultsBefore,
    untranslated: sum((e) => e.counters.dmaUntranslated),
  };
  const interrupts = {
    raised: sum((e) => e.interruptCounters.raised),
    delivered: sum((e) => e.interruptCounters.delivered),
    lost: sum((e) => e.interruptCounters.lost),
    coalesced: sum((e) => e.interruptCounters.coalesced),
    pending: sum((e) => e.interruptCounters.pending),
  };
  const resets = engines.reduce((a, e, i) => a + e.counters.resets - baseline[i]!.resets, 0);
  const perDeviceBlackout = engines.map((e) => e.progress.descriptors.blackout);
  const checkList = evaluateChecks({
    vms,
    dma,
    interrupts,
    resets,
    quiesced,
    perDeviceBlackout,
    updates: updates.length,
    ...(failure !== undefined ? { failure } : {}),
  });
  const lastUpdate = updates[updates.length - 1];
  progress(total, "done");
  const report: DemoReport = {
    result: checkList.every((c) => c.ok) ? "PASS" : "FAIL",
    from: o.from.version,
    to: updates.length > 0 ? build.version : o.to.version,
    seed: o.seed,
    blackoutNs: Math.max(0, ...updates.map((x) => x.blackoutNs)),
    brownoutNs: Math.max(0, ...updates.map((x) => x.brownoutNs)),
    handoverBytes: lastUpdate?.handoverBytes ?? 0,
    negotiated: lastUpdate?.negotiated ?? [],
    vms,
    dma,
    interrupts,
    resets,
    drivers: lastUpdate?.drivers ?? [],
    updates,
    checks: checkList,
    ...(failure !== undefined ? { failure } : {}),
  };
  return { report, machine, vmm };
}

function reportOf(
  r: HostUpdated,
  from: string,
  to: string,
  negotiation: NegotiationResult,
  emulatedNs: number,
): DemoUpdateReport {
  return updateReportOf(r.kernel.timeline, r.update, from, to, negotiation, emulatedNs);
}

/** Host time the engines' emulation took in blackouts so far (ns). */
function blackoutEmulationNs(machine: Machine, engines: readonly DmaEngine[]): number {
  return engines.reduce((a, e) => a + (machine.scheduler.stats(e.name)?.hostNs.blackout ?? 0), 0);
}
