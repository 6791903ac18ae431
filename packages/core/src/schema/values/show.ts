/**
 * Renders a schema value for messages and counterexamples: like JSON, but `bigint`s print as
 * `123n` and `Uint8Array`s as hex; long output is truncated.
 *
 * @param value - any schema value.
 * @param limit - maximum length of the result (default 2000 characters).
 * @example
 * ```ts
 * showValue({ phys: 1n << 60n }); // '{"phys":1152921504606846976n}'
 * ```
 */
export function showValue(value: unknown, limit = 2000): string {
  const text = render(value);
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}

function render(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof Uint8Array)
    return `<${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex")}>`;
  if (Array.isArray(value)) return `[${value.map(render).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${render(v)}`)
      .join(",")}}`;
  }
  if (value === undefined) return "undefined";
  return JSON.stringify(value) ?? String(value);
}
