import { SchemaDeclarationError } from "../errors.js";

/**
 * Canonical JSON: object keys sorted by code unit, no whitespace, arrays in order. Independent of
 * property insertion order, so equal layouts always serialise to the same bytes.
 *
 * @param value - a JSON-compatible value (no `bigint`, functions or cycles).
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [2, 3] }); // '{"a":[2,3],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value))
      throw new SchemaDeclarationError("canonicalJson: non-finite number", { value });
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const keys = Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  throw new SchemaDeclarationError(`canonicalJson: unsupported value of type ${typeof value}`, {
    type: typeof value,
  });
}
