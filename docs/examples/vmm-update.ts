/**
 * The VMM guide's example (docs/guides/vmm-and-demo.md): two VMs — one with a vIOMMU — on a host
 * whose kernel is live-updated under them; their memory is proven bit-identical apart from what
 * their devices wrote. Type-checked by `npm test` and run by packages/vmm/test/docs.test.ts.
 */
import { VMM_BUILDS } from "@liveupdate/cli";
import { bootLiveUpdateKernel, DmaEngine, GiB, type KernelBuild, Machine, MiB } from "@liveupdate/core";
import { updateHost, VmMemoryCheck, Vmm } from "@liveupdate/vmm";

/** Runs the example; returns what a reader would look at. */
export function vmmUpdateExample() {
  const [buildA, buildB] = VMM_BUILDS.builds as [KernelBuild, KernelBuild];
  // #region example
  const machine = new Machine({ memory: 4 * GiB });
  for (const bdf of ["00:04.0", "00:05.0"]) machine.pci.attach(new DmaEngine({ bandwidth: 256e6 }), bdf);
  const lk = bootLiveUpdateKernel(machine, { build: buildA, cmdline: "kho=on guestmemfs=512M" });

  const vmm = new Vmm(lk);
  vmm.createVm({ name: "web", memoryBytes: 256 * MiB, devices: ["00:04.0"] });
  vmm.createVm({ name: "db", memoryBytes: 256 * MiB, devices: ["00:05.0"], viommu: true });
  for (let turn = 0; turn < 8; turn++) vmm.step(50_000); // the VMs run; their devices DMA

  vmm.preserveAll(); // one LUO session per VM: RAM file, iommufd context, vfio devices
  const checks = [...vmm.vms.values()].map((vm) => VmMemoryCheck.begin(vm, machine.memory));
  const result = updateHost(vmm, { to: buildB }); // brownout, pause vCPUs, freeze, kexec, resume
  if (result.outcome !== "updated") throw result.error;

  const next = result.vmm; // the new VMM on the new kernel
  next.step(50_000);
  next.quiesce(); // devices finish what they started
  const memory = checks.map((c) => c.finish(machine.memory)); // before / after / expected digests
  // #endregion example
  return {
    identical: memory.every((m) => m.after === m.expected),
    blackoutNs: result.kernel.timeline.summary(result.update).blackoutNs ?? 0,
    resumed: [...next.vms.keys()],
  };
}
