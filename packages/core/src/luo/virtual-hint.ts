import { VirtualLayout } from "../kernel/layout.js";

/** Where in `state` (depth-first, a few levels) a number or bigint equal to `value` is stored. */
function fieldHolding(state: unknown, value: number, path = "", depth = 0): string | undefined {
  if (typeof state === "bigint" || typeof state === "number") {
    return Number(state) === value && path !== "" ? path : undefined;
  }
  if (state === null || typeof state !== "object" || depth > 3 || ArrayBuffer.isView(state)) return undefined;
  for (const [key, child] of Object.entries(state)) {
    const found = fieldHolding(
      child,
      value,
      Array.isArray(state) ? `${path}[${key}]` : path ? `${path}.${key}` : key,
      depth + 1,
    );
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Why an address a restore asked for cannot be a preserved folio, when the reason is that it is not
 * a physical address at all: a kernel virtual address (an old boot's `__va()`) written into the
 * handover, naming the field of the decoded state that holds it. Undefined otherwise.
 *
 * @param phys - the address the restore hook passed.
 * @param state - the object's decoded state, if known.
 */
export function virtualAddressHint(phys: number, state: unknown): string | undefined {
  if (!Number.isInteger(phys) || !VirtualLayout.looksVirtual(BigInt(phys))) return undefined;
  const field = fieldHolding(state, phys);
  return (
    `it looks like a direct-map virtual address of the old boot${field === undefined ? "" : ` (field ${field})`}, ` +
    "not a physical address: handover data must hold physical addresses only"
  );
}
