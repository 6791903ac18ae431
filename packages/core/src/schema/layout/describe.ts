import { alignOf, placeStruct, sizeOf } from "../declare/size.js";
import type { AnyStruct, FieldType, InlineType, IntInvariants } from "../declare/types.js";
import { SchemaDeclarationError } from "../errors.js";
import { canonicalJson } from "./canonical.js";
import {
  type FieldLayout,
  type InvariantsLayout,
  LAYOUT_FORMAT,
  type ScalarLayout,
  type SchemaLayout,
  type StructLayout,
  type TypeLayout,
} from "./types.js";

const layouts = new WeakMap<AnyStruct, SchemaLayout>();

function invariantsLayout(inv: IntInvariants<number | bigint>): InvariantsLayout | undefined {
  const out: {
    min?: string;
    max?: string;
    enum?: { name?: string; value: string }[];
    mask?: string;
    mustBeZero?: true;
  } = {};
  if (inv.min !== undefined) out.min = String(inv.min);
  if (inv.max !== undefined) out.max = String(inv.max);
  if (inv.enum !== undefined) {
    out.enum = inv.enum.map((m) =>
      m.name === undefined ? { value: String(m.value) } : { name: m.name, value: String(m.value) },
    );
  }
  if (inv.mask !== undefined) out.mask = String(inv.mask);
  if (inv.mustBeZero) out.mustBeZero = true;
  return Object.keys(out).length === 0 ? undefined : out;
}

class Describer {
  readonly structs: StructLayout[] = [];
  private readonly byName = new Map<string, { struct: AnyStruct; json: string | undefined }>();

  visitStruct(struct: AnyStruct): void {
    const seen = this.byName.get(struct.name);
    if (seen !== undefined) {
      if (seen.struct === struct) return;
      // Same name, different declaration object: allowed only when the layouts are identical.
      const json = canonicalJson(this.describeStructShallow(struct));
      seen.json ??= canonicalJson(this.describeStructShallow(seen.struct));
      if (json !== seen.json) {
        throw new SchemaDeclarationError(
          `two different structs named ${struct.name} are reachable from one schema; give them distinct names`,
          { driver: this.structs[0]?.name, struct: struct.name },
        );
      }
      return;
    }
    this.byName.set(struct.name, { struct, json: undefined });
    const index = this.structs.length;
    this.structs.push(undefined as unknown as StructLayout);
    this.structs[index] = this.describeStruct(struct, true);
  }

  private describeStructShallow(struct: AnyStruct): StructLayout {
    return this.describeStruct(struct, false);
  }

  private describeStruct(struct: AnyStruct, recurse: boolean): StructLayout {
    const placement = placeStruct(struct);
    const derived = new Map<string, { role: "count" | "length"; of: string[] }>();
    for (const [name, type] of Object.entries(struct.fields)) {
      if (type.kind === "arrayPointer" || type.kind === "areaPointer") {
        const ref = type.kind === "arrayPointer" ? type.count : type.length;
        const entry = derived.get(ref) ?? { role: type.kind === "arrayPointer" ? "count" : "length", of: [] };
        entry.of.push(name);
        derived.set(ref, entry);
      }
    }
    const fields: FieldLayout[] = placement.fields.map((f) => {
      const type: TypeLayout =
        f.type === undefined ? { kind: "padding", length: f.size } : this.describeType(f.type, recurse);
      const d = derived.get(f.name);
      const base = { name: f.name, offset: f.offset, size: f.size, align: f.align, type };
      return d === undefined ? base : { ...base, derived: { role: d.role, of: d.of } };
    });
    return { name: struct.name, size: placement.size, align: placement.align, packed: struct.packed, fields };
  }

  describeType(type: FieldType, recurse: boolean): TypeLayout {
    switch (type.kind) {
      case "scalar": {
        const invariants = invariantsLayout(type.invariants);
        const base: ScalarLayout =
          invariants === undefined
            ? { kind: "scalar", scalar: type.scalar }
            : { kind: "scalar", scalar: type.scalar, invariants };
        // Only folio fields carry the key, so the layouts (and hashes) of other scalars are unchanged.
        return type.folio === undefined
          ? base
          : { ...base, folio: { order: type.folio.order, nullable: type.folio.nullable } };
      }
      case "bool":
        return { kind: "bool" };
      case "chars":
        return { kind: "chars", length: type.length, nulTerminated: type.nulTerminated };
      case "bytes":
        return { kind: "bytes", length: type.length };
      case "reserved":
        return { kind: "reserved", length: type.length };
      case "array":
        return { kind: "array", length: type.length, element: this.describeType(type.element, recurse) };
      case "struct":
        if (recurse) this.visitStruct(type);
        return { kind: "struct", name: type.name };
      case "pointer": {
        const target: InlineType = type.target();
        return {
          kind: "pointer",
          nullable: type.nullable,
          target: this.describeType(target, recurse),
          targetSize: sizeOf(target),
          targetAlign: alignOf(target),
        };
      }
      case "arrayPointer": {
        const element: InlineType = type.element();
        return {
          kind: "arrayPointer",
          count: type.count,
          element: this.describeType(element, recurse),
          elementSize: sizeOf(element),
          elementAlign: alignOf(element),
        };
      }
      case "areaPointer":
        return { kind: "areaPointer", length: type.length, align: type.align };
    }
  }
}

/**
 * The canonical layout description of a struct and everything reachable from it (cached; the
 * result is deeply frozen). Throws a {@link SchemaDeclarationError} when two different structs
 * with the same name are reachable.
 *
 * @param root - the root struct (e.g. one schema version).
 * @example
 * ```ts
 * const layout = layoutOf(InodeV1);
 * console.log(layout.size, layout.structs.map((s) => s.name));
 * console.log(JSON.stringify(layout, null, 2));
 * ```
 */
export function layoutOf(root: AnyStruct): SchemaLayout {
  const cached = layouts.get(root);
  if (cached !== undefined) return cached;
  const describer = new Describer();
  describer.visitStruct(root);
  const placement = placeStruct(root);
  const layout: SchemaLayout = deepFreeze({
    format: LAYOUT_FORMAT,
    root: root.name,
    size: placement.size,
    align: placement.align,
    structs: describer.structs,
  });
  layouts.set(root, layout);
  return layout;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
