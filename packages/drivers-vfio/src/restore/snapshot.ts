import { pciRegs } from "@liveupdate/core";
import type { VfioDevice } from "../device.js";
import type { MsixPlacement } from "../pci/config-access.js";
import {
  barFlags,
  classCode,
  configSnapshot,
  flrCapable,
  msixFlags,
  readMsixEntry,
} from "../pci/config-access.js";
import type { VfioPciV2Value } from "../schema.js";

/**
 * The record of a preserved device, read from the live function (config space and MSI-X table) —
 * what the hardware holds, not what the driver believes — plus the driver's own facts: the host
 * vector of each entry, the VMM's masks, and the iommufd context's token.
 */
export function snapshotDevice(device: VfioDevice, iommufdToken: bigint, m: MsixPlacement): VfioPciV2Value {
  const fn = device.fn;
  const bars = fn.spec.bars.map((bar) => ({
    address: BigInt(fn.barAddress(bar.index)),
    size: BigInt(fn.barSize(bar.index)),
    index: bar.index,
    flags: barFlags(fn, bar.index),
  }));
  const vectors = [...device.vectors.values()]
    .sort((a, b) => a.index - b.index)
    .map((v) => {
      const entry = readMsixEntry(fn, m, v.index);
      return {
        msg_address: BigInt(entry.address),
        msg_data: entry.data,
        index: v.index,
        host_vector: v.hostVector,
        masked: v.masked ? 1 : 0,
      };
    });
  return {
    iommufd_token: iommufdToken,
    class_code: classCode(fn),
    bdf: fn.requesterId,
    domain: 0,
    vendor_id: fn.configRead(pciRegs.PCI_VENDOR_ID, 2),
    device_id: fn.configRead(pciRegs.PCI_DEVICE_ID, 2),
    command: fn.configRead(pciRegs.PCI_COMMAND, 2),
    msix_flags: msixFlags(fn),
    reset_works: flrCapable(fn) ? 1 : 0,
    config: configSnapshot(fn),
    bars,
    vectors,
  };
}
