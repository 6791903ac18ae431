import { SchemaDeclarationError } from "../errors.js";
import { normaliseInvariants } from "./invariants.js";
import { registerDescriptor } from "./registry.js";
import type { FolioSpec, FolioType } from "./types.js";

/** The base page size folios are counted in (x86's 4 KiB; schemas do not import the hardware model). */
export const FOLIO_PAGE_SIZE = 4096;

/** Largest folio order a folio field may declare: 18, a 1 GiB folio (x86's largest huge page). */
export const MAX_FOLIO_ORDER = 18;

/** Size in bytes of a folio of `order`. */
export function folioSize(order: number): number {
  return FOLIO_PAGE_SIZE * 2 ** order;
}

/** Options of {@link folio}. */
export interface FolioOptions {
  /** Folio order, 0 (one 4 KiB page, the default) to {@link MAX_FOLIO_ORDER}. */
  readonly order?: number;
  /** Address 0 means "no folio" (default `false`: every value names a preserved folio). */
  readonly nullable?: boolean;
}

/**
 * A folio field: the physical address (`u64`, decoded as `bigint`) of a page or folio the object
 * preserved **in place** — its device memory, a ring, a table the hardware reads — as opposed to a
 * {@link pointer}, whose pointee the codec copies into the handover. The contents never enter the
 * handover. The address must be aligned to the folio size (declared as a mask invariant, checked on
 * encode and decode), and the orchestrator checks it against the object's folios: at serialize, a
 * folio the object did not preserve is refused; at restore, one the handover does not list for the
 * object (with that order, as the object's own memory) is refused before the restore hook runs,
 * with an error naming the driver, object and field.
 *
 * @param options - `order` (default 0) and `nullable` (default `false`).
 * @throws {@link SchemaDeclarationError} for an order outside 0..{@link MAX_FOLIO_ORDER}.
 * @example
 * ```ts
 * const RingV3 = struct("ring_v3", { id: u32(), _r: reserved(4), page: folio() });
 * // onPrepare: ctx.preserveFolio(ring.page, 0); onSerialize: { page: BigInt(ring.page), ... }
 * // onRestore: ctx.restoreFolio(Number(state.page), 0) — already checked against the handover.
 * ```
 */
export function folio(options: FolioOptions = {}): FolioType {
  if (typeof options !== "object" || options === null) {
    throw new SchemaDeclarationError("folio(): options must be an object");
  }
  const order = options.order ?? 0;
  if (!Number.isInteger(order) || order < 0 || order > MAX_FOLIO_ORDER) {
    throw new SchemaDeclarationError(
      `folio(): order must be an integer between 0 and ${MAX_FOLIO_ORDER}, got ${String(order)}`,
    );
  }
  const nullable = options.nullable ?? false;
  if (typeof nullable !== "boolean") throw new SchemaDeclarationError("folio(): nullable must be a boolean");
  const spec: FolioSpec = Object.freeze({ order, nullable });
  // The alignment is an ordinary mask invariant: codecs, validation, arbitraries and the C header
  // treat the field as the u64 it is on the wire.
  const mask = ((1n << 64n) - 1n) & ~(BigInt(folioSize(order)) - 1n);
  return registerDescriptor({
    kind: "scalar" as const,
    scalar: "u64" as const,
    invariants: normaliseInvariants<bigint>("u64", { mask }),
    folio: spec,
  });
}
