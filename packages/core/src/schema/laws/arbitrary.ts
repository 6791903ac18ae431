import * as fc from "fast-check";
import { derivedFields } from "../codec/shape.js";
import { nextSatisfying } from "../declare/invariants.js";
import { SCALAR_INFO } from "../declare/scalar-info.js";
import type { AnyStruct, CharsType, Infer, InlineType, IntInvariants, ScalarName } from "../declare/types.js";
import { SchemaDeclarationError } from "../errors.js";
import { utf8Length } from "../validate/checks.js";
import { applyGenerator, type StructGenerator } from "./generators.js";

/** Options of {@link arbitraryFor}. */
export interface ArbitraryOptions {
  /** Largest array-pointer length generated (unless the count's `min` is larger; default 4). */
  readonly maxPointeeLength?: number;
  /** Largest area-pointer length generated in bytes (unless the length's `min` is larger; default 32). */
  readonly maxAreaLength?: number;
  /**
   * Pointer depth after which nullable pointers are `null` and counted pointers as short as their
   * count invariants allow (default 3). Bounds recursive declarations.
   */
  readonly maxDepth?: number;
  /**
   * The driver author's generators of meaningful values, per struct ({@link generatorFor}): each
   * replaces or transforms the schema-derived values of its struct wherever they are generated.
   */
  readonly generators?: readonly StructGenerator[];
}

const HARD_DEPTH_SLACK = 16;

interface Settings {
  readonly maxPointeeLength: number;
  readonly maxAreaLength: number;
  readonly maxDepth: number;
  readonly root: string;
  readonly generators: readonly StructGenerator[] | undefined;
}

/** Arbitrary of integers of kind `scalar` satisfying `inv`, as bigints. */
function bigScalar(scalar: ScalarName, inv: IntInvariants<number | bigint>): fc.Arbitrary<bigint> {
  const info = SCALAR_INFO[scalar];
  const first = nextSatisfying(scalar, inv, info.min)!;
  if (inv.enum !== undefined) {
    const values = inv.enum.map((m) => BigInt(m.value)).filter((v) => nextSatisfying(scalar, inv, v) === v);
    return fc.constantFrom(...values);
  }
  if (inv.mustBeZero) return fc.constant(0n);
  const lo = first;
  const hi = inv.max !== undefined ? BigInt(inv.max) : info.max;
  const ranged = fc.bigInt({ min: lo, max: hi }).map((v) => nextSatisfying(scalar, inv, v) ?? first);
  if (inv.mask === undefined) return ranged;
  const mask = BigInt(inv.mask);
  const submask = fc.bigInt({ min: 0n, max: mask }).map((r) => {
    const x = r & mask;
    return x >= lo && x <= hi ? x : first;
  });
  return fc.oneof(ranged, submask);
}

function scalarArbitrary(
  scalar: ScalarName,
  inv: IntInvariants<number | bigint>,
): fc.Arbitrary<number | bigint> {
  const big = bigScalar(scalar, inv);
  return SCALAR_INFO[scalar].big ? big : big.map((v) => Number(v));
}

/** The longest prefix of `s` (whole code points) whose UTF-8 encoding fits `room` bytes. */
function fitUtf8(s: string, room: number): string {
  let out = "";
  for (const ch of s.replace(/\0/g, "")) {
    if (utf8Length(out + ch) > room) break;
    out += ch;
  }
  return out;
}

function charsArbitrary(type: CharsType): fc.Arbitrary<string> {
  const room = type.nulTerminated ? type.length - 1 : type.length;
  if (room === 0) return fc.constant("");
  return fc.oneof(
    { arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: room }), weight: 3 },
    { arbitrary: fc.string({ unit: "grapheme", maxLength: room }).map((s) => fitUtf8(s, room)), weight: 1 },
  );
}

/** Lengths allowed by a count/length field, capped at `cap` (the smallest allowed length if above). */
function lengthArbitrary(
  scalar: ScalarName,
  inv: IntInvariants<number | bigint>,
  cap: number,
): fc.Arbitrary<number> {
  const first = nextSatisfying(scalar, inv, 0n);
  if (first === undefined || first > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new SchemaDeclarationError("no array length satisfies the count field invariants");
  }
  const lo = Number(first);
  const hi = Math.max(lo, cap);
  return fc.integer({ min: lo, max: hi }).map((n) => {
    const next = nextSatisfying(scalar, inv, BigInt(n));
    return next !== undefined && next <= BigInt(hi) ? Number(next) : lo;
  });
}

/** Builds arbitraries of a declaration's values (see {@link arbitraryFor}). */
export class Builder {
  constructor(private readonly settings: Settings) {}

  inline(type: InlineType, depth: number): fc.Arbitrary<unknown> {
    switch (type.kind) {
      case "scalar":
        return scalarArbitrary(type.scalar, type.invariants);
      case "bool":
        return fc.boolean();
      case "chars":
        return charsArbitrary(type);
      case "bytes":
        return fc.uint8Array({ minLength: type.length, maxLength: type.length });
      case "array":
        return fc.array(this.inline(type.element, depth), { minLength: type.length, maxLength: type.length });
      case "struct":
        return applyGenerator(type, this.struct(type, depth), this.settings.generators);
      case "pointer": {
        if (type.nullable && depth >= this.settings.maxDepth) return fc.constant(null);
        this.guard(depth);
        const target = this.inline(type.target(), depth + 1);
        return type.nullable ? fc.option(target, { nil: null, freq: 4 }) : target;
      }
    }
  }

  private guard(depth: number): void {
    if (depth > this.settings.maxDepth + HARD_DEPTH_SLACK) {
      throw new SchemaDeclarationError(
        `cannot generate finite values of ${this.settings.root}: a recursion through non-nullable pointers never ends`,
        { driver: this.settings.root },
      );
    }
  }

  /**
   * A fresh value of field `name` of `struct`, an array or area with `length` elements or bytes
   * (for an `up`-migrated value whose count field must keep matching).
   */
  field(struct: AnyStruct, name: string, length: number | undefined): fc.Arbitrary<unknown> {
    const type = struct.fields[name]!;
    if (type.kind === "areaPointer") return fc.uint8Array({ minLength: length ?? 0, maxLength: length ?? 0 });
    if (type.kind === "arrayPointer") {
      const n = length ?? 0;
      return n === 0
        ? fc.constant([])
        : fc.array(this.inline(type.element(), 1), { minLength: n, maxLength: n });
    }
    if (type.kind === "reserved") return fc.constant(undefined);
    return this.inline(type, 0);
  }

  /** One element of array field `name` of `struct` (a byte for an area). */
  element(struct: AnyStruct, name: string): fc.Arbitrary<unknown> {
    const type = struct.fields[name]!;
    if (type.kind === "arrayPointer") return this.inline(type.element(), 1);
    if (type.kind === "array") return this.inline(type.element, 1);
    return fc.integer({ min: 0, max: 255 });
  }

  struct(struct: AnyStruct, depth: number): fc.Arbitrary<Record<string, unknown>> {
    const derived = derivedFields(struct);
    const plain: Record<string, fc.Arbitrary<unknown>> = {};
    const counted: string[] = [];
    for (const [name, type] of Object.entries(struct.fields)) {
      if (type.kind === "reserved" || derived.has(name)) continue;
      if (type.kind === "arrayPointer" || type.kind === "areaPointer") counted.push(name);
      else plain[name] = this.inline(type, depth);
    }
    if (counted.length === 0) return fc.record(plain);
    // Pick one length per count/length field, then generate the pointees with those lengths.
    const lengthArbs: Record<string, fc.Arbitrary<number>> = {};
    for (const [countName, info] of derived) {
      const count = struct.fields[countName]!;
      if (count.kind !== "scalar") continue;
      const cap =
        depth >= this.settings.maxDepth
          ? 0
          : info.role === "count"
            ? this.settings.maxPointeeLength
            : this.settings.maxAreaLength;
      lengthArbs[countName] = lengthArbitrary(count.scalar, count.invariants, cap);
    }
    return fc.record(lengthArbs).chain((lengths) => {
      const model: Record<string, fc.Arbitrary<unknown>> = { ...plain };
      for (const name of counted) {
        const type = struct.fields[name]!;
        if (type.kind === "areaPointer") {
          const n = lengths[type.length]!;
          model[name] = fc.uint8Array({ minLength: n, maxLength: n });
        } else if (type.kind === "arrayPointer") {
          const n = lengths[type.count]!;
          if (n === 0) {
            model[name] = fc.constant([]);
          } else {
            this.guard(depth);
            model[name] = fc.array(this.inline(type.element(), depth + 1), { minLength: n, maxLength: n });
          }
        }
      }
      // Keep the declared field order in generated objects.
      const ordered: Record<string, fc.Arbitrary<unknown>> = {};
      for (const name of Object.keys(struct.fields)) if (name in model) ordered[name] = model[name]!;
      return fc.record(ordered);
    });
  }
}

/**
 * A fast-check arbitrary of valid values of `struct`: every invariant, string fit, fixed array
 * length, count-field bound and nullability respected; pointer depth bounded (for recursive
 * declarations). Every generated value encodes without error. With `options.generators`, the
 * author's generator of a struct ({@link generatorFor}) turns these values into meaningful ones
 * (e.g. recomputes a seal), or replaces them.
 *
 * @param struct - the struct declaration.
 * @param options - size and depth bounds, the author's generators.
 * @example
 * ```ts
 * fc.assert(fc.property(arbitraryFor(InodeV1), (inode) => {
 *   const memory = new InMemorySchemaMemory();
 *   return valuesEqual(codec.decode(codec.encode(inode, memory), memory), inode);
 * }));
 * ```
 */
export function arbitraryFor<S extends AnyStruct>(
  struct: S,
  options: ArbitraryOptions = {},
): fc.Arbitrary<Infer<S>> {
  return applyGenerator(struct, candidatesFor(struct, options), options.generators) as fc.Arbitrary<Infer<S>>;
}

/** The schema-derived values of `struct` before its own generator applies (nested ones do apply). */
export function candidatesFor(struct: AnyStruct, options: ArbitraryOptions = {}): fc.Arbitrary<unknown> {
  return builderFor(struct, options).struct(struct, 0);
}

/** The value builder behind {@link arbitraryFor}, for callers that generate single fields. */
export function builderFor(struct: AnyStruct, options: ArbitraryOptions = {}): Builder {
  return new Builder({
    maxPointeeLength: options.maxPointeeLength ?? 4,
    maxAreaLength: options.maxAreaLength ?? 32,
    maxDepth: options.maxDepth ?? 3,
    root: struct.name,
    generators: options.generators,
  });
}
