/**
 * Field-level differences between what `assertRestored` expected and what it got, from the
 * `expected` / `actual` an assertion error carries (vitest, chai and node:assert all set them), so a
 * mismatch names the fields instead of printing two truncated objects.
 */

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

function walk(expected: unknown, actual: unknown, path: string, out: string[], depth: number): void {
  if (out.length >= MAX_DIFFERENCES) return;
  if (Object.is(expected, actual)) return;
  if (isContainer(expected) && isContainer(actual) && depth < 8) {
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    const array = Array.isArray(expected) || ArrayBuffer.isView(expected);
    for (const key of keys) {
      walk(
        expected[key],
        actual[key],
        array ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`,
        out,
        depth + 1,
      );
    }
    return;
  }
  out.push(`${path === "" ? "(value)" : path}: expected ${show(expected)}, restored ${show(actual)}`);
}

/**
 * The differing fields of `error.expected` and `error.actual` (`flags[3]: expected 1, restored 0`),
 * or undefined when the error carries no such pair or they do not differ field by field.
 *
 * @param error - what `assertRestored` threw.
 */
export function fieldDiff(error: unknown): string | undefined {
  if (!isContainer(error) || !("expected" in error) || !("actual" in error)) return undefined;
  const out: string[] = [];
  walk(error.expected, error.actual, "", out, 0);
  if (out.length === 0) return undefined;
  return out.length >= MAX_DIFFERENCES ? `${out.join("; ")}; …` : out.join("; ");
}
