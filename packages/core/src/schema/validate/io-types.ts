import * as t from "io-ts";
import { derivedFields } from "../codec/shape.js";
import type { AnyStruct, FieldType, Infer, InlineType } from "../declare/types.js";
import { charsProblem, countProblem, scalarProblem } from "./checks.js";
import { leaf, refine } from "./refine.js";

/** An io-ts runtime type of decoded values of type `V` (input `unknown`, output `V`). */
export type IoType<V> = t.Type<V, V, unknown>;

const structTypes = new WeakMap<AnyStruct, IoType<unknown>>();

function inlineType(type: InlineType): IoType<unknown> {
  switch (type.kind) {
    case "scalar":
      return leaf(type.scalar, (u) => scalarProblem(type.scalar, type.invariants, u));
    case "bool":
      return t.boolean as IoType<unknown>;
    case "chars":
      return leaf(`char[${type.length}]`, (u) => charsProblem(type, u));
    case "bytes":
      return leaf(`u8[${type.length}]`, (u) =>
        u instanceof Uint8Array && u.length === type.length
          ? undefined
          : `expected a Uint8Array of ${type.length} bytes`,
      );
    case "array": {
      const element = inlineType(type.element);
      return refine(t.array(element) as IoType<unknown[]>, `${element.name}[${type.length}]`, (a) =>
        a.length === type.length ? undefined : `expected ${type.length} elements, got ${a.length}`,
      ) as IoType<unknown>;
    }
    case "struct":
      return ioTypeOf(type) as IoType<unknown>;
    case "pointer": {
      const target = t.recursion(`*${type.kind}`, () => inlineType(type.target()));
      return (type.nullable ? t.union([target, t.null]) : target) as IoType<unknown>;
    }
  }
}

function fieldType(struct: AnyStruct, type: Exclude<FieldType, { kind: "reserved" }>): IoType<unknown> {
  if (type.kind === "arrayPointer") {
    const count = struct.fields[type.count]!;
    const element = t.recursion("element", () => inlineType(type.element()));
    return refine(t.array(element) as IoType<unknown[]>, `${type.count} × element`, (a) =>
      count.kind === "scalar"
        ? countProblem(count.scalar, count.invariants, a.length, type.count)
        : undefined,
    ) as IoType<unknown>;
  }
  if (type.kind === "areaPointer") {
    const length = struct.fields[type.length]!;
    return leaf(`u8[${type.length}]`, (u) => {
      if (!(u instanceof Uint8Array)) return "expected a Uint8Array";
      return length.kind === "scalar"
        ? countProblem(length.scalar, length.invariants, u.length, type.length)
        : undefined;
    });
  }
  return inlineType(type);
}

function build(struct: AnyStruct): IoType<unknown> {
  const derived = derivedFields(struct);
  const props: Record<string, IoType<unknown>> = {};
  for (const [name, type] of Object.entries(struct.fields)) {
    if (type.kind === "reserved" || derived.has(name)) continue;
    props[name] = fieldType(struct, type);
  }
  const exact = t.exact(t.type(props, struct.name), struct.name) as unknown as IoType<
    Record<string, unknown>
  >;
  const shared = [...derived.entries()].filter(([, d]) => d.of.length > 1);
  if (shared.length === 0) return exact as IoType<unknown>;
  return refine(exact, struct.name, (value) => {
    for (const [count, { of }] of shared) {
      const lengths = of.map((name) => (value[name] as unknown[]).length);
      if (lengths.some((n) => n !== lengths[0])) {
        return `arrays ${of.join(", ")} share count field ${count} but have lengths ${lengths.join(", ")}`;
      }
    }
    return undefined;
  }) as IoType<unknown>;
}

/**
 * The io-ts runtime type of decoded values of `struct` (cached). It accepts exactly the values
 * the codec can encode: every invariant, string fit, array length and count bound is checked.
 * Reserved and derived count/length fields are not part of the value; `decode` strips unknown
 * properties (`t.exact`).
 *
 * @param struct - the struct declaration.
 * @example
 * ```ts
 * import { isRight } from "fp-ts/lib/Either.js";
 * const InodeT = ioTypeOf(InodeV1);
 * if (InodeT.is(value)) codecFor(InodeV1).encode(value, memory);
 * isRight(InodeT.decode(json)); // false for out-of-range fields
 * ```
 */
export function ioTypeOf<S extends AnyStruct>(struct: S): IoType<Infer<S>> {
  let type = structTypes.get(struct);
  if (type === undefined) {
    type = t.recursion(struct.name, () => build(struct));
    structTypes.set(struct, type);
  }
  return type as IoType<Infer<S>>;
}
