import * as t from "io-ts";

/**
 * A new io-ts type accepting what `base` accepts and `check` approves (`check` returns a problem
 * message or `undefined`). Unlike `t.refinement` it keeps the base type's TypeScript type and
 * reports the problem message in the validation error.
 *
 * @param base - the underlying type.
 * @param name - name of the refined type.
 * @param check - extra condition on values `base` accepted.
 */
export function refine<A>(
  base: t.Type<A, A, unknown>,
  name: string,
  check: (value: A) => string | undefined,
): t.Type<A, A, unknown> {
  return new t.Type<A, A, unknown>(
    name,
    (u): u is A => base.is(u) && check(u) === undefined,
    (u, c) => {
      const result = base.validate(u, c);
      if (result._tag === "Left") return result;
      const problem = check(result.right);
      return problem === undefined ? result : t.failure(u, c, problem);
    },
    t.identity,
  );
}

/**
 * A leaf io-ts type defined by one check returning a problem message or `undefined`.
 *
 * @param name - type name.
 * @param check - returns `undefined` for valid values.
 */
export function leaf<A>(name: string, check: (u: unknown) => string | undefined): t.Type<A, A, unknown> {
  return new t.Type<A, A, unknown>(
    name,
    (u): u is A => check(u) === undefined,
    (u, c) => {
      const problem = check(u);
      return problem === undefined ? t.success(u as A) : t.failure(u, c, problem);
    },
    t.identity,
  );
}
