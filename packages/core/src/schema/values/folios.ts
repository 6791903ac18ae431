import type { AnyStruct, FieldType, FolioSpec } from "../declare/types.js";

/** One folio field of a value: where it is, the address it holds and what it declares. */
export interface FolioRef {
  /** Field path from the root, as codec errors name it (`page`, `rings[2].page`). */
  readonly path: string;
  /** The address the field holds. */
  readonly phys: bigint;
  /** The folio's declaration (order, nullable). */
  readonly spec: FolioSpec;
}

/** Per type: whether any folio field is reachable from it (most schemas have none: a fast exit). */
const reaches = new WeakMap<object, boolean>();

function hasFolios(type: FieldType, visiting: Set<object>): boolean {
  switch (type.kind) {
    case "scalar":
      return type.folio !== undefined;
    case "array":
      return hasFolios(type.element, visiting);
    case "pointer":
      return hasFolios(type.target(), visiting);
    case "arrayPointer":
      return hasFolios(type.element(), visiting);
    case "struct": {
      const known = reaches.get(type);
      if (known !== undefined) return known;
      if (visiting.has(type)) return false; // a pointer cycle: answered by the outer visit
      visiting.add(type);
      const found = Object.values(type.fields).some((f) => hasFolios(f, visiting));
      visiting.delete(type);
      if (visiting.size === 0 || found) reaches.set(type, found);
      return found;
    }
    default:
      return false;
  }
}

/** Whether a folio field is reachable from `type` (structs answer from the cache). */
function reachesFolio(type: FieldType): boolean {
  if (type.kind === "struct") return reaches.get(type) ?? hasFolios(type, new Set());
  return type.kind === "scalar" ? type.folio !== undefined : hasFolios(type, new Set());
}

const NONE: readonly FolioRef[] = Object.freeze([]);

function collect(type: FieldType, value: unknown, path: string, out: FolioRef[]): void {
  if (!reachesFolio(type)) return;
  switch (type.kind) {
    case "scalar":
      if (type.folio !== undefined && typeof value === "bigint")
        out.push({ path, phys: value, spec: type.folio });
      return;
    case "array":
    case "arrayPointer": {
      const element = type.kind === "array" ? type.element : type.element();
      if (Array.isArray(value))
        for (let i = 0; i < value.length; i++) collect(element, value[i], `${path}[${i}]`, out);
      return;
    }
    case "pointer":
      if (value !== null && value !== undefined) collect(type.target(), value, path, out);
      return;
    case "struct": {
      if (typeof value !== "object" || value === null) return;
      for (const [name, field] of Object.entries(type.fields)) {
        collect(field, (value as Record<string, unknown>)[name], path === "" ? name : `${path}.${name}`, out);
      }
      return;
    }
    default:
      return;
  }
}

/**
 * The folio fields ({@link folio}) of a value of `root`, in layout order, with their paths and
 * addresses — what the orchestrator checks against an object's preserved folios. Empty (and
 * cheap: cached per struct) for schemas without folio fields.
 *
 * @param root - the struct the value was decoded with (or is encoded with).
 * @param value - the value.
 * @example
 * ```ts
 * folioFieldsOf(RingV3, { id: 1, page: 0x20_0000n }); // [{ path: "page", phys: 0x200000n, spec: { order: 0, nullable: false } }]
 * ```
 */
export function folioFieldsOf(root: AnyStruct, value: unknown): readonly FolioRef[] {
  if (!reachesFolio(root)) return NONE;
  const out: FolioRef[] = [];
  collect(root, value, "", out);
  return out;
}
