/**
 * Invalidation requests: the typed form, the 256-bit queued-invalidation descriptors that carry
 * them (encode for drivers, decode for the hardware), and their effect on the caches.
 *
 * @module
 */
import {
  VTD_CC_GRANULARITY,
  VTD_DESCRIPTOR,
  VTD_DESCRIPTOR_G_SHIFT,
  VTD_IOTLB_GRANULARITY,
  VTD_MAX_ADDRESS_MASK,
  VTD_PC_GRANULARITY,
  VTD_PIOTLB_GRANULARITY,
  VTD_WAIT,
} from "./abi.js";
import { VtdEncodeError } from "./errors.js";
import type { VtdCaches } from "./iotlb.js";

/**
 * One invalidation, as a driver asks for it. Page ranges are `address` (aligned to the range) and
 * `addressMask` (AM): the range is 2^AM pages of 4 KiB.
 */
export type VtdInvalidation =
  /** Context cache, every entry. */
  | { readonly kind: "context-global" }
  /** Context cache, the entries of one domain. */
  | { readonly kind: "context-domain"; readonly domainId: number }
  /** Context cache, one device (function mask: 0..3 low function bits ignored, see VT-d FM). */
  | { readonly kind: "context-device"; readonly sourceId: number; readonly functionMask?: number }
  /** PASID cache, every entry. */
  | { readonly kind: "pasid-cache-global" }
  /** PASID cache, every PASID of one domain. */
  | { readonly kind: "pasid-cache-domain"; readonly domainId: number }
  /** PASID cache, one PASID of one domain. */
  | { readonly kind: "pasid-cache-pasid"; readonly domainId: number; readonly pasid: number }
  /** IOTLB, every entry. */
  | { readonly kind: "iotlb-global" }
  /** IOTLB, every entry of one domain (any PASID, any translation type). */
  | { readonly kind: "iotlb-domain"; readonly domainId: number }
  /** IOTLB, a page range of the second-stage-only address spaces of one domain. */
  | {
      readonly kind: "iotlb-page";
      readonly domainId: number;
      readonly address: number;
      readonly addressMask: number;
    }
  /** PASID-based IOTLB: every first-stage/nested entry of (domain, PASID). */
  | { readonly kind: "pasid-iotlb"; readonly domainId: number; readonly pasid: number }
  /** PASID-based IOTLB: a page range of (domain, PASID). */
  | {
      readonly kind: "pasid-iotlb-page";
      readonly domainId: number;
      readonly pasid: number;
      readonly address: number;
      readonly addressMask: number;
    }
  /**
   * Invalidation wait: completes when every earlier descriptor has (always at once here); writes
   * `statusData` to `statusAddress` and/or sets ICS.IWC (`interrupt`).
   */
  | {
      readonly kind: "wait";
      readonly statusAddress?: number;
      readonly statusData?: number;
      readonly interrupt?: boolean;
    };

/** A 256-bit descriptor as four qwords. */
export type VtdDescriptor = readonly [bigint, bigint, bigint, bigint];

function check(kind: string, name: string, value: number, bits: number): bigint {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new VtdEncodeError(`${kind} descriptor`, name, value, `does not fit ${bits} bits`);
  }
  return BigInt(value);
}

function pageRange(kind: string, address: number, addressMask: number): bigint {
  const am = check(kind, "addressMask", addressMask, 6);
  if (addressMask > VTD_MAX_ADDRESS_MASK) {
    throw new VtdEncodeError(
      `${kind} descriptor`,
      "addressMask",
      addressMask,
      `exceeds MAMV ${VTD_MAX_ADDRESS_MASK}`,
    );
  }
  if (!Number.isSafeInteger(address) || address < 0 || address % (4096 * 2 ** addressMask) !== 0) {
    throw new VtdEncodeError(`${kind} descriptor`, "address", address, "is not aligned to the range");
  }
  return BigInt(address) | am;
}

function head(type: number, granularity: number): bigint {
  return (
    BigInt(type & 0xf) | (BigInt(type >> 4) << 9n) | (BigInt(granularity) << BigInt(VTD_DESCRIPTOR_G_SHIFT))
  );
}

/** A descriptor of qw0 (and qw1); qwords 2 and 3 are reserved. */
function descriptor(q0: bigint, q1 = 0n): VtdDescriptor {
  return [q0, q1, 0n, 0n];
}

/** Encodes an invalidation as a 256-bit queued-invalidation descriptor. */
export function encodeInvalidation(inv: VtdInvalidation): VtdDescriptor {
  const k = inv.kind;
  const did = (domainId: number): bigint => check(k, "domainId", domainId, 16) << 16n;
  const pasid = (value: number): bigint => check(k, "pasid", value, 20) << 32n;
  switch (inv.kind) {
    case "context-global":
      return descriptor(head(VTD_DESCRIPTOR.CONTEXT_CACHE, VTD_CC_GRANULARITY.GLOBAL));
    case "context-domain":
      return descriptor(head(VTD_DESCRIPTOR.CONTEXT_CACHE, VTD_CC_GRANULARITY.DOMAIN) | did(inv.domainId));
    case "context-device":
      return descriptor(
        head(VTD_DESCRIPTOR.CONTEXT_CACHE, VTD_CC_GRANULARITY.DEVICE) |
          (check(k, "sourceId", inv.sourceId, 16) << 32n) |
          (check(k, "functionMask", inv.functionMask ?? 0, 2) << 48n),
      );
    case "pasid-cache-global":
      return descriptor(head(VTD_DESCRIPTOR.PASID_CACHE, VTD_PC_GRANULARITY.GLOBAL));
    case "pasid-cache-domain":
      return descriptor(head(VTD_DESCRIPTOR.PASID_CACHE, VTD_PC_GRANULARITY.DOMAIN) | did(inv.domainId));
    case "pasid-cache-pasid":
      return descriptor(
        head(VTD_DESCRIPTOR.PASID_CACHE, VTD_PC_GRANULARITY.PASID) | did(inv.domainId) | pasid(inv.pasid),
      );
    case "iotlb-global":
      return descriptor(head(VTD_DESCRIPTOR.IOTLB, VTD_IOTLB_GRANULARITY.GLOBAL));
    case "iotlb-domain":
      return descriptor(head(VTD_DESCRIPTOR.IOTLB, VTD_IOTLB_GRANULARITY.DOMAIN) | did(inv.domainId));
    case "iotlb-page":
      return descriptor(
        head(VTD_DESCRIPTOR.IOTLB, VTD_IOTLB_GRANULARITY.PAGE) | did(inv.domainId),
        pageRange(k, inv.address, inv.addressMask),
      );
    case "pasid-iotlb":
      return descriptor(
        head(VTD_DESCRIPTOR.PASID_IOTLB, VTD_PIOTLB_GRANULARITY.PASID) | did(inv.domainId) | pasid(inv.pasid),
      );
    case "pasid-iotlb-page":
      return descriptor(
        head(VTD_DESCRIPTOR.PASID_IOTLB, VTD_PIOTLB_GRANULARITY.PAGE) | did(inv.domainId) | pasid(inv.pasid),
        pageRange(k, inv.address, inv.addressMask),
      );
    case "wait": {
      const address = inv.statusAddress;
      if (address !== undefined && (!Number.isSafeInteger(address) || address < 0 || address % 4 !== 0)) {
        throw new VtdEncodeError(
          "wait descriptor",
          "statusAddress",
          address,
          "is not a 4-byte aligned address",
        );
      }
      const q0 =
        head(VTD_DESCRIPTOR.WAIT, 0) |
        (inv.interrupt === true ? 1n << BigInt(VTD_WAIT.IF) : 0n) |
        (address !== undefined ? 1n << BigInt(VTD_WAIT.SW) : 0n) |
        (check(k, "statusData", inv.statusData ?? 0, 32) << 32n);
      return descriptor(q0, BigInt(address ?? 0));
    }
  }
}

/** Why a descriptor was refused (IQERCD.IQEI). */
export type DescriptorError = "invalid-type" | "reserved-bits";

const U32 = 0xffff_ffffn;

/**
 * Decodes a descriptor's first two qwords (what the hardware does when it fetches one).
 *
 * @returns the invalidation, or why it is invalid.
 */
export function decodeInvalidation(q0: bigint, q1: bigint): VtdInvalidation | DescriptorError {
  const type = Number((q0 & 0xfn) | (((q0 >> 9n) & 7n) << 4n));
  const g = Number((q0 >> BigInt(VTD_DESCRIPTOR_G_SHIFT)) & 3n);
  const did = Number((q0 >> 16n) & 0xffffn);
  const pasid = Number((q0 >> 32n) & 0xfffffn);
  const address = Number(q1 & ~0xfffn);
  const addressMask = Number(q1 & 0x3fn);
  switch (type) {
    case VTD_DESCRIPTOR.CONTEXT_CACHE:
      if (g === VTD_CC_GRANULARITY.GLOBAL) return { kind: "context-global" };
      if (g === VTD_CC_GRANULARITY.DOMAIN) return { kind: "context-domain", domainId: did };
      if (g === VTD_CC_GRANULARITY.DEVICE) {
        return {
          kind: "context-device",
          sourceId: Number((q0 >> 32n) & 0xffffn),
          functionMask: Number((q0 >> 48n) & 3n),
        };
      }
      return "reserved-bits";
    case VTD_DESCRIPTOR.PASID_CACHE:
      if (g === VTD_PC_GRANULARITY.GLOBAL) return { kind: "pasid-cache-global" };
      if (g === VTD_PC_GRANULARITY.DOMAIN) return { kind: "pasid-cache-domain", domainId: did };
      if (g === VTD_PC_GRANULARITY.PASID) return { kind: "pasid-cache-pasid", domainId: did, pasid };
      return "reserved-bits";
    case VTD_DESCRIPTOR.IOTLB:
      if (g === VTD_IOTLB_GRANULARITY.GLOBAL) return { kind: "iotlb-global" };
      if (g === VTD_IOTLB_GRANULARITY.DOMAIN) return { kind: "iotlb-domain", domainId: did };
      if (g === VTD_IOTLB_GRANULARITY.PAGE) {
        if (addressMask > VTD_MAX_ADDRESS_MASK) return "reserved-bits";
        return { kind: "iotlb-page", domainId: did, address, addressMask };
      }
      return "reserved-bits";
    case VTD_DESCRIPTOR.PASID_IOTLB:
      if (g === VTD_PIOTLB_GRANULARITY.PASID) return { kind: "pasid-iotlb", domainId: did, pasid };
      if (g === VTD_PIOTLB_GRANULARITY.PAGE) {
        if (addressMask > VTD_MAX_ADDRESS_MASK) return "reserved-bits";
        return { kind: "pasid-iotlb-page", domainId: did, pasid, address, addressMask };
      }
      return "reserved-bits";
    case VTD_DESCRIPTOR.WAIT: {
      const sw = ((q0 >> BigInt(VTD_WAIT.SW)) & 1n) === 1n;
      return {
        kind: "wait",
        interrupt: ((q0 >> BigInt(VTD_WAIT.IF)) & 1n) === 1n,
        ...(sw ? { statusAddress: Number(q1 & ~3n), statusData: Number((q0 >> 32n) & U32) } : {}),
      };
    }
    default:
      return "invalid-type";
  }
}

/** Applies a cache invalidation (not `wait`, which the queue handles) to the caches. */
export function applyInvalidation(caches: VtdCaches, inv: VtdInvalidation): void {
  switch (inv.kind) {
    case "context-global":
      caches.invalidateContextsGlobal();
      return;
    case "context-domain":
      caches.invalidateContextsOfDomain(inv.domainId);
      return;
    case "context-device":
      caches.invalidateContextsOfDevice(inv.sourceId, inv.functionMask ?? 0);
      return;
    case "pasid-cache-global":
      caches.invalidatePasidsGlobal();
      return;
    case "pasid-cache-domain":
      caches.invalidatePasids(inv.domainId, undefined);
      return;
    case "pasid-cache-pasid":
      caches.invalidatePasids(inv.domainId, inv.pasid);
      return;
    case "iotlb-global":
      caches.invalidateIotlbGlobal();
      return;
    case "iotlb-domain":
      caches.invalidateIotlbOfDomain(inv.domainId);
      return;
    case "iotlb-page":
      caches.invalidateIotlbPages(inv.domainId, inv.address, 4096 * 2 ** inv.addressMask);
      return;
    case "pasid-iotlb":
      caches.invalidatePasidIotlb(inv.domainId, inv.pasid, 0, undefined);
      return;
    case "pasid-iotlb-page":
      caches.invalidatePasidIotlb(inv.domainId, inv.pasid, inv.address, 4096 * 2 ** inv.addressMask);
      return;
    case "wait":
      return;
  }
}
