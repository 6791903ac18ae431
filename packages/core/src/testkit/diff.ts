/**
 * Field-level differences between what `assertRestored` expected and what it got, from the
 * `expected` / `actual` an assertion error carries (vitest, chai and node:assert all set them), so a
 * mismatch names the fields instead of printing two truncated objects.
 */
import { valueDiff } from "../schema/laws/diff.js";

/**
 * The differing fields of `error.expected` and `error.actual` (`flags[3]: expected 1, restored 0`),
 * or undefined when the error carries no such pair or they do not differ field by field.
 *
 * @param error - what `assertRestored` threw.
 */
export function fieldDiff(error: unknown): string | undefined {
  if (error === null || typeof error !== "object" || !("expected" in error) || !("actual" in error))
    return undefined;
  return valueDiff(error.expected, error.actual, "restored");
}
