/**
 * Deep equality of schema values: numbers, bigints, booleans, strings and `null` by `===`,
 * `Uint8Array`s byte by byte, arrays element-wise, objects by their own enumerable keys (same key
 * set required). Used by the round-trip and migrator law checks.
 *
 * @param a - first value.
 * @param b - second value.
 * @example
 * ```ts
 * valuesEqual({ phys: 1n, data: new Uint8Array([1]) }, { phys: 1n, data: new Uint8Array([1]) }); // true
 * ```
 */
export function valuesEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!valuesEqual(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!valuesEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
