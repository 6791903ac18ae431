/** Field-level differences between two values, for law failures and restore mismatches. */

/** Most differences listed. */
const MAX_DIFFERENCES = 6;

function show(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  if (Array.isArray(value)) return `[${value.length} item(s)]`;
  if (value !== null && typeof value === "object") return "{…}";
  return String(value);
}

function isContainer(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object";
}

function walk(
  expected: unknown,
  actual: unknown,
  path: string,
  out: string[],
  depth: number,
  got: string,
): void {
  if (out.length > MAX_DIFFERENCES || Object.is(expected, actual)) return;
  if (isContainer(expected) && isContainer(actual) && depth < 8) {
    const array = Array.isArray(expected) || ArrayBuffer.isView(expected);
    for (const key of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
      const step = array ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`;
      walk(expected[key], actual[key], step, out, depth + 1, got);
    }
    return;
  }
  out.push(`${path === "" ? "" : `${path}: `}expected ${show(expected)}, ${got} ${show(actual)}`);
}

/**
 * The differing fields of two values (`flags[3]: expected 1, got 0; …`, at most six), or
 * undefined when they do not differ field by field.
 *
 * @param expected - what should have come out.
 * @param actual - what did.
 * @param got - the word for `actual` (default `"got"`).
 */
export function valueDiff(expected: unknown, actual: unknown, got = "got"): string | undefined {
  const out: string[] = [];
  walk(expected, actual, "", out, 0, got);
  if (out.length === 0) return undefined;
  return out.length > MAX_DIFFERENCES ? `${out.slice(0, MAX_DIFFERENCES).join("; ")}; …` : out.join("; ");
}
