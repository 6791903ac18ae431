import { createHash } from "node:crypto";
import type { AnyStruct } from "../declare/types.js";
import { canonicalJson } from "./canonical.js";
import { layoutOf } from "./describe.js";

const hashes = new WeakMap<AnyStruct, string>();

/**
 * The stable layout hash of a struct: lowercase hex SHA-256 of the {@link canonicalJson} of its
 * {@link layoutOf} description. It changes whenever anything with byte-level meaning changes —
 * field order, names, types, sizes, offsets, padding, invariants, pointee layouts, struct names —
 * and never depends on property insertion order beyond the declared field order.
 *
 * @param root - the root struct (e.g. one schema version).
 * @example
 * ```ts
 * expect(layoutHash(InodeV1)).toBe(lock["guestmemfs-v1"]); // forgot-to-bump check
 * ```
 */
export function layoutHash(root: AnyStruct): string {
  const cached = hashes.get(root);
  if (cached !== undefined) return cached;
  const hash = createHash("sha256")
    .update(canonicalJson(layoutOf(root)), "utf8")
    .digest("hex");
  hashes.set(root, hash);
  return hash;
}
