import { SCALAR_INFO } from "../declare/scalar-info.js";
import type { ScalarName } from "../declare/types.js";
import { canonicalJson } from "../layout/canonical.js";
import type {
  FieldLayout,
  InvariantsLayout,
  SchemaLayout,
  StructLayout,
  TypeLayout,
} from "../layout/types.js";
import { SchemaDumpInvalidError } from "./errors.js";
import { type DumpableSchema, describeSchema, type SchemaDump } from "./json.js";

const C_SCALAR: Readonly<Record<ScalarName, string>> = {
  u8: "uint8_t",
  u16: "uint16_t",
  u32: "uint32_t",
  u64: "uint64_t",
  i8: "int8_t",
  i16: "int16_t",
  i32: "int32_t",
  i64: "int64_t",
};

/** Options of {@link cHeader}. */
export interface CHeaderOptions {
  /** Include guard macro; default `LIVEUPDATE_SCHEMA_<DRIVER>_H`. */
  readonly guard?: string;
  /** Emit `_Static_assert`s on sizes, alignments and field offsets (default `true`). */
  readonly staticAsserts?: boolean;
}

/** How a struct of the dump is emitted in C. */
export interface CStructInfo {
  /** The struct's name in the layout description. */
  readonly name: string;
  /** Its C tag (`struct <cName>`): the layout name, suffixed `_v<N>` when versions disagree on it. */
  readonly cName: string;
  /** The first version whose layout contains this struct. */
  readonly firstVersion: number;
  /** Whether `__attribute__((packed))` is emitted (only when natural C alignment would differ). */
  readonly packed: boolean;
  /** Its layout. */
  readonly layout: StructLayout;
}

/** The C view of a dump: which C struct each version's structs map to, in emission order. */
export interface CStructPlan {
  /** Emitted structs, in definition order (inline dependencies first). */
  readonly structs: readonly CStructInfo[];
  /** Per version (index `version - 1`): layout struct name → C tag. */
  readonly names: readonly ReadonlyMap<string, string>[];
}

/** Upper-case C macro prefix of a name: non-alphanumerics become `_`. */
export function macroPrefix(name: string): string {
  const m = name.replace(/[^A-Za-z0-9]/g, "_").toUpperCase();
  return /^[0-9]/.test(m) ? `_${m}` : m;
}

function structsOf(layout: SchemaLayout): Map<string, StructLayout> {
  return new Map(layout.structs.map((s) => [s.name, s]));
}

function structRefs(type: TypeLayout, inlineOnly: boolean, out: string[]): void {
  switch (type.kind) {
    case "struct":
      out.push(type.name);
      return;
    case "array":
      structRefs(type.element, inlineOnly, out);
      return;
    case "pointer":
      if (!inlineOnly) structRefs(type.target, inlineOnly, out);
      return;
    case "arrayPointer":
      if (!inlineOnly) structRefs(type.element, inlineOnly, out);
      return;
    default:
      return;
  }
}

function refsOf(s: StructLayout, inlineOnly: boolean): string[] {
  const out: string[] = [];
  for (const f of s.fields) structRefs(f.type, inlineOnly, out);
  return out;
}

/** Identity of a struct including everything reachable from it (so equal keys mean equal C). */
function deepKey(name: string, byName: Map<string, StructLayout>): string {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (n: string) => {
    if (seen.has(n)) return;
    seen.add(n);
    order.push(n);
    const s = byName.get(n);
    if (s === undefined)
      throw new SchemaDumpInvalidError(`schema dump: struct ${n} is referenced but not described`);
    for (const r of refsOf(s, false)) visit(r);
  };
  visit(name);
  return canonicalJson(order.map((n) => byName.get(n)));
}

function cAlignOf(type: TypeLayout, structAlign: (name: string) => number): number {
  switch (type.kind) {
    case "scalar":
      return SCALAR_INFO[type.scalar].size;
    case "array":
      return cAlignOf(type.element, structAlign);
    case "struct":
      return structAlign(type.name);
    case "pointer":
    case "arrayPointer":
    case "areaPointer":
      return 8;
    default:
      return 1;
  }
}

/**
 * Decides the C struct names and emission order (every struct after the structs it embeds or
 * points to, except along pointer cycles) for every version of a dump. A layout struct name
 * keeps its name in C when every version agrees on its (deep) layout; otherwise each distinct
 * layout becomes `<name>_v<N>`, N being the first version that has it.
 *
 * @throws SchemaDumpInvalidError when a generated name collides with another struct's name.
 */
export function planCStructs(dump: SchemaDump): CStructPlan {
  const perVersion = dump.versions.map((v) => structsOf(v.layout));
  // name -> distinct deep keys in order of first appearance
  const keysByName = new Map<string, { key: string; version: number; layout: StructLayout }[]>();
  const keyOf: Map<string, string>[] = [];
  dump.versions.forEach((v, i) => {
    const byName = perVersion[i]!;
    const keys = new Map<string, string>();
    for (const s of v.layout.structs) {
      const key = deepKey(s.name, byName);
      keys.set(s.name, key);
      const list = keysByName.get(s.name) ?? [];
      if (!list.some((e) => e.key === key)) list.push({ key, version: v.version, layout: s });
      keysByName.set(s.name, list);
    }
    keyOf.push(keys);
  });
  const cNameOfKey = new Map<string, string>();
  const taken = new Map<string, string>();
  for (const [name, list] of keysByName) {
    for (const e of list) {
      const cName = list.length === 1 ? name : `${name}_v${e.version}`;
      const other = taken.get(cName);
      if (other !== undefined && other !== e.key) {
        throw new SchemaDumpInvalidError(
          `schema dump ${dump.driver}: C struct name ${cName} would be used twice`,
          {
            driver: dump.driver,
            struct: cName,
          },
        );
      }
      taken.set(cName, e.key);
      cNameOfKey.set(`${name}\u0000${e.key}`, cName);
    }
  }
  const names = dump.versions.map((_, i) => {
    const m = new Map<string, string>();
    for (const [name, key] of keyOf[i]!) m.set(name, cNameOfKey.get(`${name}\u0000${key}`)!);
    return m;
  });
  // Emission: per version, inline dependencies first (depth-first post-order), root last.
  const emitted = new Map<string, CStructInfo>();
  const order: CStructInfo[] = [];
  const packedOf = new Map<string, boolean>();
  const cAlign = new Map<string, number>();
  dump.versions.forEach((v, i) => {
    const byName = perVersion[i]!;
    const nameMap = names[i]!;
    const visiting = new Set<string>();
    const inlineClosure = (name: string, acc = new Set<string>()): Set<string> => {
      if (acc.has(name)) return acc;
      acc.add(name);
      for (const r of refsOf(byName.get(name)!, true)) inlineClosure(r, acc);
      return acc;
    };
    const emit = (name: string): void => {
      const cName = nameMap.get(name)!;
      // Already emitted, or on the current path (a pointer cycle; inline cycles cannot be declared).
      if (emitted.has(cName) || visiting.has(name)) return;
      visiting.add(name);
      const s = byName.get(name)!;
      // Inline members must precede for C; pointees go first too (so a header reads bottom-up)
      // unless one of them embeds a struct still being emitted.
      for (const r of refsOf(s, true)) emit(r);
      for (const r of refsOf(s, false)) {
        if (![...inlineClosure(r)].some((n) => visiting.has(n))) emit(r);
      }
      const alignOfStruct = (n: string) => cAlign.get(nameMap.get(n)!) ?? 1;
      let maxAlign = 1;
      let misaligned = false;
      for (const f of s.fields) {
        const a = cAlignOf(f.type, alignOfStruct);
        maxAlign = Math.max(maxAlign, a);
        if (f.offset % a !== 0) misaligned = true;
      }
      const packed = misaligned || s.size % maxAlign !== 0;
      packedOf.set(cName, packed);
      cAlign.set(cName, packed ? 1 : maxAlign);
      const info: CStructInfo = { name, cName, firstVersion: v.version, packed, layout: s };
      emitted.set(cName, info);
      order.push(info);
      visiting.delete(name);
    };
    for (const s of v.layout.structs) emit(s.name);
  });
  return { structs: order, names };
}

function literal(scalar: ScalarName, value: string, hex = false): string {
  const v = BigInt(value);
  const info = SCALAR_INFO[scalar];
  if (info.size === 8) {
    if (info.signed) {
      if (v === info.min) return "(-INT64_C(9223372036854775807) - 1)";
      return v < 0n ? `(-INT64_C(${-v}))` : `INT64_C(${v})`;
    }
    return `UINT64_C(0x${v.toString(16)})`;
  }
  if (info.signed) {
    if (info.size === 4 && v === info.min) return "(-2147483647 - 1)";
    return v < 0n ? `(${v})` : `${v}`;
  }
  return hex || v >= 0x10000n ? `0x${v.toString(16)}u` : `${v}u`;
}

function num(value: string): string {
  const v = BigInt(value);
  return v >= 0x10000n ? `0x${v.toString(16)}` : value;
}

function invariantText(inv: InvariantsLayout | undefined): string {
  if (inv === undefined) return "";
  const parts: string[] = [];
  if (inv.mustBeZero) parts.push("must be zero");
  if (inv.min !== undefined && inv.max !== undefined) parts.push(`${num(inv.min)}..${num(inv.max)}`);
  else if (inv.min !== undefined) parts.push(`>= ${num(inv.min)}`);
  else if (inv.max !== undefined) parts.push(`<= ${num(inv.max)}`);
  if (inv.enum !== undefined) {
    parts.push(
      `one of ${inv.enum.map((m) => (m.name === undefined ? num(m.value) : `${m.name}=${num(m.value)}`)).join(", ")}`,
    );
  }
  if (inv.mask !== undefined) parts.push(`mask 0x${BigInt(inv.mask).toString(16)}`);
  return parts.join("; ");
}

/**
 * The integer a field holds or points to, for invariant constants and comments: the field itself,
 * the element of an inline array, or the pointee (element) of a pointer or array pointer.
 */
function scalarOf(type: TypeLayout): Extract<TypeLayout, { kind: "scalar" }> | undefined {
  switch (type.kind) {
    case "scalar":
      return type;
    case "array":
      return scalarOf(type.element);
    case "pointer":
      return scalarOf(type.target);
    case "arrayPointer":
      return scalarOf(type.element);
    default:
      return undefined;
  }
}

/** What a pointee's (element's) invariants say, as a comment suffix. */
function pointeeInvariants(type: TypeLayout): string {
  const scalar = type.kind === "scalar" || type.kind === "array" ? scalarOf(type) : undefined;
  const text = invariantText(scalar?.invariants);
  return text === "" ? "" : `; each element: ${text}`;
}

/** A folio field's comment: what it addresses, and that the contents are not in the handover. */
function folioText(folio: NonNullable<Extract<TypeLayout, { kind: "scalar" }>["folio"]>): string {
  const kib = 4 << folio.order;
  const size = kib >= 1024 ? `${kib / 1024} MiB` : `${kib} KiB`;
  return `phys addr of a folio of order ${folio.order} (${size}) preserved in place, not copied into the handover${folio.nullable ? " (0 = none)" : " (never 0)"}`;
}

function leafOf(type: TypeLayout): { leaf: TypeLayout; dims: number[] } {
  const dims: number[] = [];
  let t = type;
  while (t.kind === "array") {
    dims.push(t.length);
    t = t.element;
  }
  return { leaf: t, dims };
}

/** A short C-ish description of a pointee type, for comments. */
function typeText(type: TypeLayout, names: ReadonlyMap<string, string>): string {
  switch (type.kind) {
    case "scalar":
      return C_SCALAR[type.scalar];
    case "bool":
      return "bool8";
    case "chars":
      return `char[${type.length}]`;
    case "bytes":
    case "reserved":
    case "padding":
      return `uint8_t[${type.length}]`;
    case "array":
      return `${typeText(type.element, names)}[${type.length}]`;
    case "struct":
      return `struct ${names.get(type.name) ?? type.name}`;
    case "pointer":
      return "phys pointer";
    case "arrayPointer":
      return "phys array pointer";
    case "areaPointer":
      return "phys area pointer";
  }
}

function fieldDecl(f: FieldLayout, names: ReadonlyMap<string, string>): { decl: string; comment: string } {
  const { leaf, dims } = leafOf(f.type);
  const suffix = dims.map((d) => `[${d}]`).join("");
  const comments: string[] = [];
  let base: string;
  let extra = "";
  switch (leaf.kind) {
    case "scalar":
      base = C_SCALAR[leaf.scalar];
      if (leaf.folio !== undefined) comments.push(folioText(leaf.folio));
      comments.push(invariantText(leaf.invariants));
      break;
    case "bool":
      base = "uint8_t";
      comments.push("bool: 0 or 1");
      break;
    case "chars":
      base = "char";
      extra = `[${leaf.length}]`;
      comments.push(leaf.nulTerminated ? "UTF-8, NUL-terminated and NUL-padded" : "UTF-8, NUL-padded");
      break;
    case "bytes":
      base = "uint8_t";
      extra = `[${leaf.length}]`;
      break;
    case "reserved":
      base = "uint8_t";
      extra = `[${leaf.length}]`;
      comments.push("reserved, must be zero");
      break;
    case "padding":
      base = "uint8_t";
      extra = `[${leaf.length}]`;
      comments.push("padding, must be zero");
      break;
    case "struct":
      base = `struct ${names.get(leaf.name) ?? leaf.name}`;
      break;
    case "pointer":
      base = "uint64_t";
      comments.push(
        `phys addr of ${typeText(leaf.target, names)}${leaf.nullable ? " (0 = NULL)" : " (never 0)"}; physical, not a C pointer${pointeeInvariants(leaf.target)}`,
      );
      break;
    case "arrayPointer":
      base = "uint64_t";
      // The codec refuses 0 with a non-zero count and a non-zero address with count 0.
      comments.push(
        `phys addr of ${typeText(leaf.element, names)}[${leaf.count}], 0 if and only if ${leaf.count} == 0${pointeeInvariants(leaf.element)}`,
      );
      break;
    case "areaPointer":
      base = "uint64_t";
      comments.push(
        `phys addr of a ${leaf.length}-byte memory area aligned to ${leaf.align}, 0 if and only if ${leaf.length} == 0`,
      );
      break;
    default:
      throw new SchemaDumpInvalidError(`schema dump: unknown field type ${JSON.stringify(leaf)}`);
  }
  if (f.derived !== undefined) comments.push(`${f.derived.role} of ${f.derived.of.join(", ")}`);
  const comment = comments.filter((c) => c !== "").join("; ");
  return { decl: `${base} ${f.name}${suffix}${extra};`, comment };
}

/**
 * Generates a C11 header for every version of a driver's schema: one struct per distinct layout
 * with fixed-width types (`uint32_t`, `uint64_t`, `char name[32]`, nested structs), pointer fields
 * as `uint64_t` physical addresses with a comment naming the pointee, explicit padding members,
 * `__attribute__((packed))` only where natural C alignment would not reproduce the layout,
 * `_Static_assert`s on every size, alignment and field offset, the compatible strings, sizes and
 * invariant constants as macros, and an include guard. Compiles with `gcc -std=c11 -Wall -Werror`.
 *
 * @param schema - a versioned schema, or its {@link SchemaDump} (e.g. a committed JSON dump).
 * @example
 * ```ts
 * writeFileSync("memfd_schema.h", cHeader(Memfd));
 * ```
 */
export function cHeader(schema: DumpableSchema | SchemaDump, options: CHeaderOptions = {}): string {
  const dump = "format" in schema ? schema : describeSchema(schema);
  const drv = macroPrefix(dump.driver);
  const guard = options.guard ?? `LIVEUPDATE_SCHEMA_${drv}_H`;
  const asserts = options.staticAsserts ?? true;
  const plan = planCStructs(dump);
  const out: string[] = [];
  out.push(
    "/* SPDX-License-Identifier: MIT */",
    `/*`,
    ` * Preserved state of driver "${dump.driver}", versions 1..${dump.versions.length}.`,
    " * Generated by @liveupdate/core (cHeader) from the schema declaration; do not edit.",
    " * Little-endian; pointer fields hold physical addresses of preserved memory.",
    " */",
    `#ifndef ${guard}`,
    `#define ${guard}`,
    "",
    "#include <stddef.h>",
    "#include <stdint.h>",
    "",
    `#define ${drv}_LATEST_VERSION ${dump.versions.length}`,
  );
  for (const v of dump.versions) {
    const root = plan.names[v.version - 1]!.get(v.layout.root)!;
    out.push(
      `#define ${drv}_V${v.version}_COMPATIBLE "${v.compatible}"`,
      `#define ${drv}_V${v.version}_SIZE ${v.layout.size}u /* sizeof(struct ${root}) */`,
    );
  }
  for (const m of dump.migrators) out.push(`/* migrator v${m.from} <-> v${m.to}: ${m.kind} */`);
  out.push("");
  const macros = new Map<string, string>();
  const defineMacro = (name: string, value: string) => {
    const prev = macros.get(name);
    if (prev !== undefined && prev !== value) {
      throw new SchemaDumpInvalidError(`schema dump ${dump.driver}: macro ${name} would be defined twice`, {
        driver: dump.driver,
        macro: name,
      });
    }
    if (prev === undefined) {
      macros.set(name, value);
      out.push(`#define ${name} ${value}`);
    }
  };
  for (const info of plan.structs) {
    const names = plan.names[info.firstVersion - 1]!;
    const s = info.layout;
    const roots = dump.versions.filter((v) => plan.names[v.version - 1]!.get(v.layout.root) === info.cName);
    const header = roots.length > 0 ? ` (root of ${roots.map((v) => v.compatible).join(", ")})` : "";
    out.push(`/* struct ${info.cName}: ${s.size} bytes, aligned to ${s.align}${header} */`);
    // Invariant constants.
    const prefix = macroPrefix(info.cName);
    for (const f of s.fields) {
      // Element invariants too: of inline arrays and of what (array) pointers point to.
      const leaf = scalarOf(f.type);
      if (leaf === undefined || leaf.invariants === undefined) continue;
      const inv = leaf.invariants;
      const fp = `${prefix}_${macroPrefix(f.name)}`;
      if (inv.min !== undefined) defineMacro(`${fp}_MIN`, literal(leaf.scalar, inv.min));
      if (inv.max !== undefined) defineMacro(`${fp}_MAX`, literal(leaf.scalar, inv.max));
      if (inv.mask !== undefined) defineMacro(`${fp}_MASK`, literal(leaf.scalar, inv.mask, true));
      for (const m of inv.enum ?? []) {
        if (m.name !== undefined) defineMacro(`${fp}_${macroPrefix(m.name)}`, literal(leaf.scalar, m.value));
      }
    }
    out.push(`struct ${info.cName} {`);
    const decls = s.fields.map((f) => fieldDecl(f, names));
    const width = Math.max(...decls.map((d) => d.decl.length));
    decls.forEach((d, i) => {
      const f = s.fields[i]!;
      const comment = `/* @${f.offset}${d.comment ? `: ${d.comment}` : ""} */`;
      out.push(`\t${d.decl.padEnd(width)} ${comment}`);
    });
    const attr = !info.packed
      ? ""
      : s.align > 1
        ? ` __attribute__((packed, aligned(${s.align})))`
        : " __attribute__((packed))";
    out.push(`}${attr};`);
    if (asserts) {
      out.push(`_Static_assert(sizeof(struct ${info.cName}) == ${s.size}, "sizeof(struct ${info.cName})");`);
      // A declared-packed struct emitted without the attribute may be more aligned in C: harmless.
      if (!s.packed || info.packed) {
        out.push(
          `_Static_assert(_Alignof(struct ${info.cName}) == ${s.align}, "_Alignof(struct ${info.cName})");`,
        );
      }
      for (const f of s.fields) {
        out.push(
          `_Static_assert(offsetof(struct ${info.cName}, ${f.name}) == ${f.offset}, "offsetof(struct ${info.cName}, ${f.name})");`,
        );
      }
    }
    out.push("");
  }
  out.push(`#endif /* ${guard} */`, "");
  return out.join("\n");
}
