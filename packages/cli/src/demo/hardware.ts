import { exportHardwareState, hex, type Machine, VTD_REG } from "@liveupdate/core";
import { IOMMU_IOAS_MAP_WRITABLE, NestedHwpt, NO_PASID } from "@liveupdate/drivers-iommufd";
import type { Vmm } from "@liveupdate/vmm";

/** One range of a device's IOVA map in `hardware.json` (hex strings). */
export interface DemoMappingJson {
  /** IOVA. */
  readonly iova: string;
  /** Host-physical address. */
  readonly phys: string;
  /** Bytes. */
  readonly length: string;
  /** Whether DMA writes are allowed. */
  readonly write: boolean;
}

/** One passthrough device in `hardware.json`. */
export interface DemoDeviceJson {
  /** `BB:DD.F`. */
  readonly bdf: string;
  /** VM it belongs to. */
  readonly vm: string;
  /** PASID its requests carry (a vIOMMU guest's), or `null` for requests without PASID. */
  readonly pasid: number | null;
  /** For a vIOMMU guest: its first-stage table (guest-physical, hex); translation is nested. */
  readonly firstStageGpa: string | null;
  /** The second-stage map iommufd believes it programmed: guest-physical (= IOVA) → host-physical. */
  readonly mappings: readonly DemoMappingJson[];
}

/**
 * `hardware.json` of the demo: the machine's exported hardware state (IOMMU registers, root table,
 * PCI functions), with `iommu.rtaddr` — the root-table address register with its translation-mode
 * bits, as a hex string — and per passthrough device its BDF, PASID and the IOVA map the driver
 * programmed, so an independent program can walk the tables in `memory.img` and compare.
 */
export function demoHardwareJson(machine: Machine, vmm: Vmm): Record<string, unknown> {
  const state = exportHardwareState(machine);
  const devices: DemoDeviceJson[] = [];
  for (const vm of vmm.vms.values()) {
    for (const d of vm.devices) {
      const bound = d.device.iommufd;
      const attachment = bound === undefined ? undefined : [...bound.attachments.values()][0];
      const nested = attachment?.hwpt instanceof NestedHwpt ? attachment.hwpt : undefined;
      const mappings: DemoMappingJson[] = [];
      for (const ioas of vm.ctx.ioas.values()) {
        for (const area of ioas.areas.areas) {
          for (let at = 0; at < area.length; ) {
            const { phys, contiguous } = area.file.locate(area.offset + at);
            const length = Math.min(contiguous, area.length - at);
            mappings.push({
              iova: hex(area.iova + at),
              phys: hex(phys),
              length: hex(length),
              write: (area.flags & IOMMU_IOAS_MAP_WRITABLE) !== 0,
            });
            at += length;
          }
        }
      }
      devices.push({
        bdf: d.bdf.slice(5),
        vm: vm.name,
        pasid: attachment === undefined || attachment.pasid === NO_PASID ? null : attachment.pasid,
        firstStageGpa: nested === undefined ? null : hex(nested.firstStageTable),
        mappings,
      });
    }
  }
  return {
    ...state,
    iommu: { ...state.iommu, rtaddr: hex(Number(machine.iommu.readRegister(VTD_REG.RTADDR))) },
    devices,
  };
}
