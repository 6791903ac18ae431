import {
  EXP_CAP_OFFSET,
  MSIX_CAP_OFFSET,
  PCI_BAR_COUNT,
  PCI_BASE_ADDRESS_0,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSIX,
  PCI_CAPABILITY_LIST,
  PCI_CLASS_PROG,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP_FLR,
  PCI_EXP_DEVCTL,
  PCI_EXP_FLAGS,
  PCI_HEADER_TYPE,
  PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
  PCI_MSIX_PBA,
  PCI_MSIX_TABLE,
  PCI_REVISION_ID,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from "./config-regs.js";
import type { ConfigSpace } from "./config-space.js";
import { PciFunctionSpecError } from "./errors.js";
import type { MsixLayout } from "./msix.js";

/** One memory BAR of a function. */
export interface BarSpec {
  /** BAR register index, 0–5 (a 64-bit BAR also takes `index + 1`). */
  readonly index: number;
  /** Size in bytes: a power of two, at least 16. */
  readonly size: number;
  /** 64-bit BAR (default true). */
  readonly is64?: boolean;
  /** Prefetchable (default false). */
  readonly prefetchable?: boolean;
}

/** The fixed identity and layout of a PCI function. */
export interface PciFunctionSpec {
  /** A label for messages before the function has a BDF. */
  readonly name?: string;
  /** Vendor id (u16). */
  readonly vendorId: number;
  /** Device id (u16). */
  readonly deviceId: number;
  /** Class code (24 bits: base class, subclass, programming interface). */
  readonly classCode: number;
  /** Revision id (default 0). */
  readonly revision?: number;
  /** Subsystem vendor id (default = vendor id). */
  readonly subsystemVendorId?: number;
  /** Subsystem id (default = device id). */
  readonly subsystemId?: number;
  /** Memory BARs. */
  readonly bars: readonly BarSpec[];
  /** MSI-X table and PBA placement, when the function has MSI-X. */
  readonly msix?: MsixLayout;
  /** Whether the function advertises function-level reset (default true). */
  readonly flr?: boolean;
}

/**
 * Checks a spec: BAR sizes and indices, MSI-X table and PBA inside their BARs and not overlapping.
 *
 * @throws {@link PciFunctionSpecError} naming the field at fault.
 */
export function validateSpec(spec: PciFunctionSpec): void {
  const taken = new Set<number>();
  for (const bar of spec.bars) {
    const regs = bar.is64 === false ? 1 : 2;
    if (!Number.isInteger(bar.index) || bar.index < 0 || bar.index + regs > PCI_BAR_COUNT) {
      throw new PciFunctionSpecError(`bars[${bar.index}]`, "index out of range for its width");
    }
    if (
      !Number.isSafeInteger(bar.size) ||
      bar.size < 16 ||
      bar.size > 2 ** 24 ||
      (bar.size & (bar.size - 1)) !== 0
    ) {
      throw new PciFunctionSpecError(`bars[${bar.index}].size`, "a power of two from 16 bytes to 16 MiB");
    }
    for (let r = bar.index; r < bar.index + regs; r++) {
      if (taken.has(r)) throw new PciFunctionSpecError(`bars[${bar.index}]`, "overlaps another BAR");
      taken.add(r);
    }
  }
  const m = spec.msix;
  if (m === undefined) return;
  if (!Number.isInteger(m.vectors) || m.vectors < 1 || m.vectors > 2048) {
    throw new PciFunctionSpecError("msix.vectors", "1..2048");
  }
  const sizeOf = (i: number) => spec.bars.find((b) => b.index === i)?.size;
  const tableEnd = m.tableOffset + m.vectors * 16;
  const pbaEnd = m.pbaOffset + Math.ceil(m.vectors / 64) * 8;
  const tableBar = sizeOf(m.tableBar);
  const pbaBar = sizeOf(m.pbaBar);
  if (tableBar === undefined || m.tableOffset % 8 !== 0 || tableEnd > tableBar) {
    throw new PciFunctionSpecError("msix.table", "must lie 8-byte aligned inside an implemented BAR");
  }
  if (pbaBar === undefined || m.pbaOffset % 8 !== 0 || pbaEnd > pbaBar) {
    throw new PciFunctionSpecError("msix.pba", "must lie 8-byte aligned inside an implemented BAR");
  }
  if (m.tableBar === m.pbaBar && m.tableOffset < pbaEnd && m.pbaOffset < tableEnd) {
    throw new PciFunctionSpecError("msix", "table and PBA overlap");
  }
}

/**
 * Writes a function's power-on config space: ids, command 0 (memory and bus master writable),
 * status with the capability list, BARs with their type bits and size-derived write masks (so
 * writing all ones reads back the size mask), MSI-X at 0x40 and PCI Express (FLR capable) at 0x50.
 */
export function initConfigSpace(config: ConfigSpace, spec: PciFunctionSpec): void {
  config.bytes.fill(0);
  config.set(PCI_VENDOR_ID, 2, spec.vendorId);
  config.set(PCI_DEVICE_ID, 2, spec.deviceId);
  config.set(PCI_COMMAND, 2, 0);
  config.setWritable(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
  config.set(PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
  config.set(PCI_REVISION_ID, 1, spec.revision ?? 0);
  config.set(PCI_CLASS_PROG, 1, spec.classCode & 0xff);
  config.set(PCI_CLASS_PROG + 1, 2, (spec.classCode >>> 8) & 0xffff);
  config.set(PCI_HEADER_TYPE, 1, 0);
  config.set(PCI_SUBSYSTEM_VENDOR_ID, 2, spec.subsystemVendorId ?? spec.vendorId);
  config.set(PCI_SUBSYSTEM_ID, 2, spec.subsystemId ?? spec.deviceId);
  for (const bar of spec.bars) {
    const is64 = bar.is64 !== false;
    const reg = PCI_BASE_ADDRESS_0 + 4 * bar.index;
    config.set(reg, 4, (is64 ? 0x4 : 0) | (bar.prefetchable === true ? 0x8 : 0));
    // Address bits below the size are hard-wired to 0: sizing reads back ~(size - 1).
    config.setWritable(reg, 4, (~(bar.size - 1) & 0xffff_fff0) >>> 0);
    if (is64)
      config.setWritable(reg + 4, 4, bar.size > 2 ** 32 ? ~(bar.size / 2 ** 32 - 1) >>> 0 : 0xffff_ffff);
  }
  const msix = spec.msix;
  const flr = spec.flr !== false;
  config.set(PCI_CAPABILITY_LIST, 1, msix !== undefined ? MSIX_CAP_OFFSET : EXP_CAP_OFFSET);
  if (msix !== undefined) {
    config.set(MSIX_CAP_OFFSET, 1, PCI_CAP_ID_MSIX);
    config.set(MSIX_CAP_OFFSET + 1, 1, EXP_CAP_OFFSET);
    config.set(MSIX_CAP_OFFSET + PCI_MSIX_FLAGS, 2, msix.vectors - 1);
    config.setWritable(MSIX_CAP_OFFSET + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    config.set(MSIX_CAP_OFFSET + PCI_MSIX_TABLE, 4, (msix.tableOffset | msix.tableBar) >>> 0);
    config.set(MSIX_CAP_OFFSET + PCI_MSIX_PBA, 4, (msix.pbaOffset | msix.pbaBar) >>> 0);
  }
  config.set(EXP_CAP_OFFSET, 1, PCI_CAP_ID_EXP);
  config.set(EXP_CAP_OFFSET + 1, 1, 0);
  config.set(EXP_CAP_OFFSET + PCI_EXP_FLAGS, 2, 0x2); // version 2, endpoint
  config.set(EXP_CAP_OFFSET + PCI_EXP_DEVCAP, 4, flr ? PCI_EXP_DEVCAP_FLR : 0);
  // Device Control bit 15 (Initiate FLR) is write-only: the function acts on it and it reads 0.
  config.set(EXP_CAP_OFFSET + PCI_EXP_DEVCTL, 2, 0);
}
