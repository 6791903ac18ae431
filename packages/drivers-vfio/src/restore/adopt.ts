import { hex, type Kernel, type Luo, type PciFunction, pciRegs, type RestoreContext } from "@liveupdate/core";
import type { IommufdDevice, IommufdDriver } from "@liveupdate/drivers-iommufd";
import { VfioDevice, VfioEventHandle } from "../device.js";
import { VfioDeviceMismatchError, VfioHandoverCorruptError } from "../errors.js";
import {
  COMMAND_MASTER,
  COMMAND_MEMORY,
  classCode,
  initiateFlr,
  msixEnabled,
  msixFlags,
  msixPlacement,
  readMsixEntry,
  setCommandBits,
} from "../pci/config-access.js";
import { PciCore } from "../pci/pci-core.js";
import type { VfioPciV2Value } from "../schema.js";

/** What adopting a device needs from the new kernel. */
export interface AdoptEnvironment {
  /** The new kernel. */
  readonly kernel: Kernel;
  /** Its PCI core (restored first, as the FLB). */
  readonly pci: PciCore;
  /** Its iommufd (the device's context restored first: the driver depends on it). */
  readonly iommufd: IommufdDriver;
  /** Its orchestrator (where the restored iommufd context is). */
  readonly luo: Luo;
}

type Where = { driver: string; session: string; token: bigint };

/**
 * Checks a preserved device against its own record, against the live function and against the
 * iommufd context restored from the same session, then adopts it without touching it. A record
 * that contradicts itself is corrupt; a live device that no longer matches is reset — bus
 * mastering off, then FLR when it can — before the typed error is thrown, so a device the kernel
 * does not trust does no more DMA.
 *
 * @throws {@link VfioHandoverCorruptError} or {@link VfioDeviceMismatchError} naming the field.
 */
export function adoptDevice(state: VfioPciV2Value, r: RestoreContext, env: AdoptEnvironment): VfioDevice {
  const where: Where = { driver: r.driver, session: r.session, token: r.token };
  const bdf = PciCore.bdfOf(state.bdf);
  checkRecord(state, bdf, where, env.pci);
  const fn = env.kernel.machine.pci.function(bdf);
  if (fn === undefined)
    throw new VfioDeviceMismatchError(`${bdf}: no PCI function there any more`, {
      ...where,
      bdf,
      field: "bdf",
    });
  const mismatch = firstMismatch(state, fn, r.session, env);
  if (mismatch !== undefined) {
    setCommandBits(fn, COMMAND_MASTER, false);
    if (state.reset_works !== 0) initiateFlr(fn);
    // The record's host vectors stay reserved for this boot: they come from the handover, and
    // nothing proves they were this device's rather than another preserved device's.
    throw new VfioDeviceMismatchError(`${bdf}: ${mismatch.field} ${mismatch.why}; the device was reset`, {
      ...where,
      bdf,
      field: mismatch.field,
      ...mismatch.values,
    });
  }
  env.pci.claim(fn);
  const device = new VfioDevice(fn, bdf, true);
  device.iommufd = boundDevice(state, fn, r.session, env);
  for (const v of state.vectors) {
    device.vectors.set(v.index, {
      index: v.index,
      hostVector: v.host_vector,
      masked: v.masked !== 0,
      event: new VfioEventHandle(),
    });
  }
  return device;
}

/** The record must agree with itself and with the PCI core's list before the device is looked at. */
function checkRecord(state: VfioPciV2Value, bdf: string, where: Where, pci: PciCore): void {
  const corrupt = (field: string, why: string): never => {
    throw new VfioHandoverCorruptError(`${bdf}: ${field} ${why}`, { ...where, bdf, field });
  };
  if (!pci.incoming.has(state.bdf)) corrupt("bdf", "is not among the devices the PCI core preserved");
  const config = new DataView(state.config.buffer, state.config.byteOffset, state.config.byteLength);
  if (config.getUint16(pciRegs.PCI_VENDOR_ID, true) !== state.vendor_id)
    corrupt("config", "does not hold the recorded vendor id");
  if (config.getUint16(pciRegs.PCI_DEVICE_ID, true) !== state.device_id)
    corrupt("config", "does not hold the recorded device id");
  const bars = new Set<number>();
  state.bars.forEach((b, i) => {
    if (bars.has(b.index)) corrupt(`bars[${i}].index`, `repeats BAR ${b.index}`);
    bars.add(b.index);
  });
  if (!msixEnabled(state.msix_flags) && state.vectors.length > 0)
    corrupt("vectors", "lists MSI-X vectors while the recorded MSI-X is disabled");
  const indices = new Set<number>();
  const hosts = new Set<number>();
  state.vectors.forEach((v, i) => {
    if (indices.has(v.index)) corrupt(`vectors[${i}].index`, `repeats MSI-X entry ${v.index}`);
    if (hosts.has(v.host_vector))
      corrupt(`vectors[${i}].host_vector`, `repeats host vector ${v.host_vector}`);
    indices.add(v.index);
    hosts.add(v.host_vector);
  });
}

interface Mismatch {
  readonly field: string;
  readonly why: string;
  readonly values: Record<string, unknown>;
}

/** The first difference between the record and the live device, or `undefined`. */
function firstMismatch(
  state: VfioPciV2Value,
  fn: PciFunction,
  session: string,
  env: AdoptEnvironment,
): Mismatch | undefined {
  const differ = (field: string, recorded: unknown, live: unknown): Mismatch => ({
    field,
    why: `is ${String(live)} on the device, ${String(recorded)} in the snapshot`,
    values: { recorded, live },
  });
  const vendor = fn.configRead(pciRegs.PCI_VENDOR_ID, 2);
  if (vendor !== state.vendor_id) return differ("vendor_id", hex(state.vendor_id), hex(vendor));
  const deviceId = fn.configRead(pciRegs.PCI_DEVICE_ID, 2);
  if (deviceId !== state.device_id) return differ("device_id", hex(state.device_id), hex(deviceId));
  if (classCode(fn) !== state.class_code)
    return differ("class_code", hex(state.class_code), hex(classCode(fn)));
  for (const [i, b] of state.bars.entries()) {
    if (fn.barSize(b.index) !== Number(b.size))
      return differ(`bars[${i}].size`, Number(b.size), fn.barSize(b.index));
    if (fn.barAddress(b.index) !== Number(b.address))
      return differ(`bars[${i}].address`, hex(Number(b.address)), hex(fn.barAddress(b.index)));
  }
  const command = fn.configRead(pciRegs.PCI_COMMAND, 2);
  for (const [bit, name] of [
    [COMMAND_MEMORY, "memory"],
    [COMMAND_MASTER, "bus_master"],
  ] as const) {
    if ((state.command & bit) !== (command & bit))
      return differ(
        `command.${name}`,
        (state.command & bit) !== 0 ? "on" : "off",
        (command & bit) !== 0 ? "on" : "off",
      );
  }
  const m = msixPlacement(fn);
  if (state.vectors.length > 0 && m === undefined) return differ("msix", "present", "absent");
  if (m !== undefined) {
    const flags = msixFlags(fn);
    if (msixEnabled(flags) !== msixEnabled(state.msix_flags))
      return differ("msix_flags.enable", msixEnabled(state.msix_flags), msixEnabled(flags));
    for (const [i, v] of state.vectors.entries()) {
      if (v.index >= m.vectors) return differ(`vectors[${i}].index`, v.index, `a table of ${m.vectors}`);
      const live = readMsixEntry(fn, m, v.index);
      if (live.address !== Number(v.msg_address))
        return differ(`vectors[${i}].msg_address`, hex(Number(v.msg_address)), hex(live.address));
      if (live.data !== v.msg_data) return differ(`vectors[${i}].msg_data`, hex(v.msg_data), hex(live.data));
      if (live.masked !== (v.masked !== 0))
        return differ(`vectors[${i}].masked`, v.masked !== 0, live.masked);
    }
  }
  if (boundDevice(state, fn, session, env) === undefined)
    return {
      field: "iommufd_token",
      why: `names no iommufd context of session "${session}" that has the device bound`,
      values: { recorded: String(state.iommufd_token) },
    };
  return undefined;
}

/** The device's binding in the iommufd context restored from the record's token, if it is there. */
function boundDevice(
  state: VfioPciV2Value,
  fn: PciFunction,
  session: string,
  env: AdoptEnvironment,
): IommufdDevice | undefined {
  const ctx = env.iommufd.core.ownerOf(fn.requesterId);
  const at = ctx === undefined ? undefined : env.luo.whereIs(ctx);
  if (ctx === undefined || at === undefined) return undefined;
  if (at.direction !== "incoming" || at.session !== session || at.token !== state.iommufd_token)
    return undefined;
  for (const d of ctx.devices.values()) if (d.requesterId === fn.requesterId) return d;
  return undefined;
}
