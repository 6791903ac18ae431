import type * as t from "io-ts";
import { UnionType } from "io-ts";
import type { AnyStruct, Infer } from "../declare/types.js";
import { type SchemaErrorContext, SchemaInvalidValueError, type ValidationIssue } from "../errors.js";
import { ioTypeOf } from "./io-types.js";

/**
 * Turns io-ts errors into issues with field paths in the SDK's notation (`a.b[3].c`). Union
 * member indices (nullable pointers) are not part of the path; one issue is kept per path.
 *
 * @param errors - io-ts validation errors.
 * @example
 * ```ts
 * const result = ioTypeOf(InodeV1).decode(value);
 * if (result._tag === "Left") console.log(formatIssues(result.left));
 * ```
 */
export function formatIssues(errors: t.Errors): ValidationIssue[] {
  const seen = new Set<string>();
  const issues: ValidationIssue[] = [];
  for (const error of errors) {
    let path = "";
    const ctx = error.context;
    for (let i = 1; i < ctx.length; i++) {
      if (ctx[i - 1]!.type instanceof UnionType) continue;
      const key = ctx[i]!.key;
      path = /^\d+$/.test(key) ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`;
    }
    const last = ctx[ctx.length - 1];
    const message = error.message ?? `expected ${last?.type.name ?? "a valid value"}`;
    // One issue per path: a nullable pointer's union reports a failure per member; the first
    // (the pointee's own problem) is the informative one.
    if (seen.has(path)) continue;
    seen.add(path);
    issues.push({ path, message });
  }
  return issues;
}

/**
 * Checks `value` against the io-ts type of `struct` and returns it typed (with unknown properties
 * stripped), or throws a {@link SchemaInvalidValueError} listing every issue with its field path.
 *
 * @param struct - the struct declaration.
 * @param value - the candidate value.
 * @param context - driver/version facts for the error (defaults to the struct name).
 * @example
 * ```ts
 * try {
 *   validate(FsV1, json);
 * } catch (e) {
 *   if (e instanceof SchemaInvalidValueError) console.log(e.issues); // [{ path: "inodes[3].extents[0].phys", … }]
 * }
 * ```
 */
export function validate<S extends AnyStruct>(
  struct: S,
  value: unknown,
  context: SchemaErrorContext = {},
): Infer<S> {
  const result = ioTypeOf(struct).decode(value);
  if (result._tag === "Right") return result.right;
  const issues = formatIssues(result.left);
  const first = issues[0] ?? { path: "", message: "invalid value" };
  throw new SchemaInvalidValueError(
    `invalid ${struct.name} value: ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more issues)` : ""}`,
    { driver: struct.name, ...context, path: first.path },
    issues,
  );
}
