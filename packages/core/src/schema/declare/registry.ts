/**
 * Descriptors made by the DSL builders. Only these are accepted as fields, elements and pointees:
 * generated codecs interpolate descriptor data into JavaScript source, so hand-made look-alike
 * objects are refused rather than trusted.
 *
 * @internal
 * @module
 */

const declared = new WeakSet<object>();

/** Freezes `descriptor` and records it as made by a builder. */
export function registerDescriptor<T extends object>(descriptor: T): T {
  Object.freeze(descriptor);
  declared.add(descriptor);
  return descriptor;
}

/** Whether `value` was made by a DSL builder. */
export function isDescriptor(value: unknown): boolean {
  return typeof value === "object" && value !== null && declared.has(value);
}
