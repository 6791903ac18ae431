/** Shared fixtures: two kernel builds with the VMM's drivers, and a machine with DMA engines. */
import { bootLiveUpdateKernel, DmaEngine, defineKernelBuild, Machine } from "@liveupdate/core";
import { IommufdDriver } from "@liveupdate/drivers-iommufd";
import { VfioPciDriver } from "@liveupdate/drivers-vfio";
import { GuestmemfsDriver } from "@liveupdate/guestmemfs";
import { Vmm } from "../src/index.js";

export const MiB = 1024 * 1024;

/** Build A and build B. */
export const buildA = defineKernelBuild({
  version: "6.18.0-vmm-a",
  drivers: [GuestmemfsDriver, IommufdDriver, VfioPciDriver],
});
export const buildB = defineKernelBuild({
  version: "6.18.0-vmm-b",
  drivers: [GuestmemfsDriver, IommufdDriver, VfioPciDriver],
});

/** A 1 GiB machine (manual clock: deterministic) with `engines` DMA engines at 00:04.0, 00:05.0, … */
export function host(engines: number, options: { seed?: number } = {}) {
  const machine = new Machine({ memory: "1G", manualClock: true, scheduler: { seed: options.seed ?? 1 } });
  const devices = Array.from({ length: engines }, (_, i) => {
    const e = new DmaEngine({ bandwidth: 1e9 });
    machine.pci.attach(e, `00:0${4 + i}.0`);
    return e;
  });
  const lk = bootLiveUpdateKernel(machine, { build: buildA, cmdline: "kho=on guestmemfs=512M" });
  return { machine, devices, lk, vmm: new Vmm(lk) };
}

/** Small workloads: 256 descriptors of 4 KiB. */
export const SMALL = { ringSize: 256, chunk: 4096, sources: 16, destinations: 8 } as const;
