import { type IncomingMemoryMap, orderBytes, PRESERVE_BITS } from "@liveupdate/core";
import type { FolioClaim } from "./registry.js";

/** Preserved folios and bytes of one order. */
export interface OrderSummary {
  /** Folio order. */
  readonly order: number;
  /** Folios of that order. */
  readonly folios: number;
  /** Their bytes. */
  readonly bytes: number;
}

/** Preserved folios and bytes of one owner. */
export interface OwnerSummary {
  /** The owner (`unclaimed` for folios no decoder accounts for). */
  readonly owner: string;
  /** Folios. */
  readonly folios: number;
  /** Bytes. */
  readonly bytes: number;
}

/** The name of preserved memory no decoder claims. */
export const UNCLAIMED = "unclaimed";

/** Folios and bytes per order, from the memory map's counts. */
export function perOrder(map: IncomingMemoryMap): OrderSummary[] {
  return map.folioCounts
    .map((folios, order) => ({ order, folios, bytes: folios * orderBytes(order) }))
    .filter((s) => s.folios > 0);
}

/** Every preserved folio of the memory map's bitmaps, as `[phys, order]`. */
function* preservedFolios(map: IncomingMemoryMap): Generator<readonly [number, number]> {
  for (const [order, bitmaps] of map.bitmaps) {
    const size = orderBytes(order);
    for (const [index, bits] of bitmaps) {
      for (let byte = 0; byte < bits.length; byte++) {
        if (bits[byte] === 0) continue;
        for (let bit = 0; bit < 8; bit++) {
          if ((bits[byte]! & (1 << bit)) !== 0)
            yield [(index * PRESERVE_BITS + byte * 8 + bit) * size, order];
        }
      }
    }
  }
}

/**
 * Sums preserved folios per owner. `claims` are in precedence order (the first claim of a folio
 * wins): a folio belongs to the claim that starts at its address, else to one that contains it,
 * else it is {@link UNCLAIMED}.
 */
export function perOwner(map: IncomingMemoryMap, claims: readonly FolioClaim[]): OwnerSummary[] {
  const byStart = new Map<number, string>();
  for (const c of claims) if (!byStart.has(c.phys)) byStart.set(c.phys, c.owner);
  const sorted = [...claims].sort((a, b) => a.phys - b.phys);
  const containing = (phys: number): string | undefined => {
    let lo = 0;
    let hi = sorted.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]!.phys <= phys) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const c = sorted[found];
    return c !== undefined && phys < c.phys + c.size ? c.owner : undefined;
  };
  const totals = new Map<string, { folios: number; bytes: number }>();
  for (const [phys, order] of preservedFolios(map)) {
    const owner = byStart.get(phys) ?? containing(phys) ?? UNCLAIMED;
    const t = totals.get(owner) ?? { folios: 0, bytes: 0 };
    t.folios++;
    t.bytes += orderBytes(order);
    totals.set(owner, t);
  }
  return [...totals]
    .map(([owner, t]) => ({ owner, ...t }))
    .sort((a, b) => b.bytes - a.bytes || a.owner.localeCompare(b.owner));
}
