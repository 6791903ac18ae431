import { SCALAR_INFO } from "../declare/scalar-info.js";
import { alignOf, placeStruct, sizeOf } from "../declare/size.js";
import type { AnyStruct, FieldType, InlineType } from "../declare/types.js";
import { element, field, type Loc, offset, type PathRef, pathExpr, shift } from "./emitter.js";
import type { Gen } from "./program.js";
import { emitInvariantChecks, invalidScalar, literal, writeScalar } from "./scalar-code.js";
import { derivedFields, hasPointers } from "./shape.js";

/**
 * Encoder code generation: straight-line DataView writes with inline checks; failures call the
 * runtime `h` with a lazily built field path.
 *
 * @internal
 * @module
 */

/** Emits zero writes for `n` bytes at `loc` (32-bit words, then bytes; `fill` when long). */
function emitZero(g: Gen, loc: Loc, n: number): void {
  if (n > 16) {
    g.em.line(`${loc.u8}.fill(0, ${offset(loc)}, ${offset(loc, n)});`);
    return;
  }
  let i = 0;
  for (; i + 4 <= n; i += 4) g.em.line(`${loc.dv}.setUint32(${offset(loc, i)}, 0);`);
  for (; i < n; i++) g.em.line(`${loc.u8}[${offset(loc, i)}] = 0;`);
}

/** Emits a u64 physical address write from the safe-integer variable `phys`. */
export function emitWritePhys(g: Gen, loc: Loc, phys: string): void {
  if (phys === "0") {
    g.em.line(`${loc.dv}.setUint32(${offset(loc)}, 0, true);`);
    g.em.line(`${loc.dv}.setUint32(${offset(loc, 4)}, 0, true);`);
    return;
  }
  g.em.line(`${loc.dv}.setUint32(${offset(loc)}, ${phys} % 4294967296, true);`);
  g.em.line(`${loc.dv}.setUint32(${offset(loc, 4)}, (${phys} / 4294967296) >>> 0, true);`);
}

/** Emits the encoding of `value` (an expression) of inline type `type` at `loc`. */
function emitEncodeType(
  g: Gen,
  type: InlineType,
  value: string,
  loc: Loc,
  path: PathRef,
  behind: boolean,
): void {
  const { em } = g;
  switch (type.kind) {
    case "scalar": {
      const x = em.fresh("x");
      em.line(`const ${x} = ${value};`);
      em.line(
        `if (${invalidScalar(type.scalar, x)}) h.failScalar(${pathExpr(path)}, "${type.scalar}", ${x});`,
      );
      emitInvariantChecks(
        em,
        type.scalar,
        type.invariants,
        x,
        (rule, detail) => `h.failInvariant(${pathExpr(path)}, "${rule}", ${x}, ${JSON.stringify(detail)});`,
      );
      em.line(writeScalar(type.scalar, loc.u8, loc.dv, offset(loc), x));
      return;
    }
    case "bool": {
      const x = em.fresh("x");
      em.line(`const ${x} = ${value};`);
      em.line(`if (${x} !== true && ${x} !== false) h.failType(${pathExpr(path)}, "a boolean", ${x});`);
      em.line(`${loc.u8}[${offset(loc)}] = ${x} ? 1 : 0;`);
      return;
    }
    case "chars": {
      const x = em.fresh("x");
      const r = em.fresh("r");
      em.line(`const ${x} = ${value};`);
      em.line(
        `const ${r} = h.writeChars(${x}, ${loc.u8}, ${offset(loc)}, ${type.length}, ${type.nulTerminated});`,
      );
      em.line(`if (${r} !== 0) h.failChars(${pathExpr(path)}, ${r}, ${x});`);
      return;
    }
    case "bytes": {
      const x = em.fresh("x");
      em.line(`const ${x} = ${value};`);
      em.line(
        `if (!(${x} instanceof Uint8Array) || ${x}.length !== ${type.length}) h.failType(${pathExpr(path)}, "a Uint8Array of ${type.length} bytes", ${x});`,
      );
      em.line(`${loc.u8}.set(${x}, ${offset(loc)});`);
      return;
    }
    case "array": {
      const a = em.fresh("a");
      const i = em.fresh("i");
      const e = em.fresh("e");
      const size = sizeOf(type.element);
      em.line(`const ${a} = ${value};`);
      em.line(
        `if (!Array.isArray(${a}) || ${a}.length !== ${type.length}) h.failType(${pathExpr(path)}, "an array of ${type.length} elements", ${a});`,
      );
      em.open(`for (let ${i} = 0; ${i} < ${type.length}; ${i}++)`);
      em.line(`const ${e} = ${offset(loc)} + ${i} * ${size};`);
      emitEncodeType(
        g,
        type.element,
        `${a}[${i}]`,
        { u8: loc.u8, dv: loc.dv, base: e, k: 0 },
        element(path, i),
        behind,
      );
      em.close();
      return;
    }
    case "struct": {
      if (behind && hasPointers(type)) {
        const k = g.program.functionOf(type);
        em.line(`E${k}(${value}, ${loc.u8}, ${loc.dv}, ${offset(loc)}, c, ${pathExpr(path)});`);
      } else {
        emitEncodeStruct(g, type, value, loc, path);
      }
      return;
    }
    case "pointer": {
      const t = em.fresh("t");
      em.line(`const ${t} = ${value};`);
      em.open(`if (${t} === null)`);
      if (!type.nullable) em.line(`h.failNull(${pathExpr(path)});`);
      emitWritePhys(g, loc, "0");
      em.close();
      em.open("else");
      const target = type.target();
      const pp = em.fresh("p");
      const b = em.fresh("b");
      const d = em.fresh("d");
      const ph = em.fresh("ph");
      em.line(`const ${pp} = ${pathExpr(path)};`);
      em.line(`const ${b} = new Uint8Array(${sizeOf(target)}), ${d} = new DataView(${b}.buffer);`);
      emitEncodeType(g, target, t, { u8: b, dv: d, base: "", k: 0 }, { base: pp, parts: [] }, true);
      em.line(`const ${ph} = h.store(c, ${b}, ${alignOf(target)}, ${pp});`);
      emitWritePhys(g, loc, ph);
      em.close();
      return;
    }
  }
}

/** Emits the encoding of struct value `value` at `loc`, including counted pointers. */
export function emitEncodeStruct(g: Gen, struct: AnyStruct, value: string, loc: Loc, path: PathRef): void {
  const { em } = g;
  const v = em.fresh("v");
  em.line(`const ${v} = ${value};`);
  em.line(`if (typeof ${v} !== "object" || ${v} === null) h.failType(${pathExpr(path)}, "an object", ${v});`);
  // Counted pointers first: their lengths define the derived count/length fields.
  const counted = new Map<string, string>();
  const lengths = new Map<string, { n: string; firstPath: PathRef }>();
  for (const [name, type] of Object.entries(struct.fields)) {
    if (type.kind !== "arrayPointer" && type.kind !== "areaPointer") continue;
    const a = em.fresh("a");
    const fpath = field(path, name);
    counted.set(name, a);
    em.line(`const ${a} = ${v}.${name};`);
    if (type.kind === "arrayPointer") {
      em.line(`if (!Array.isArray(${a})) h.failType(${pathExpr(fpath)}, "an array", ${a});`);
    } else {
      em.line(`if (!(${a} instanceof Uint8Array)) h.failType(${pathExpr(fpath)}, "a Uint8Array", ${a});`);
    }
    const ref = type.kind === "arrayPointer" ? type.count : type.length;
    const known = lengths.get(ref);
    if (known === undefined) {
      const n = em.fresh("n");
      em.line(`const ${n} = ${a}.length;`);
      lengths.set(ref, { n, firstPath: fpath });
    } else {
      em.line(
        `if (${a}.length !== ${known.n}) h.failCountMismatch(${pathExpr(fpath)}, "${ref}", ${known.n}, ${a}.length);`,
      );
    }
  }
  const derived = derivedFields(struct);
  for (const f of placeStruct(struct).fields) {
    const at = shift(loc, f.offset);
    const type: FieldType | undefined = f.type;
    if (type === undefined || type.kind === "reserved") {
      emitZero(g, at, f.size);
      continue;
    }
    const count = lengths.get(f.name);
    if (count !== undefined && type.kind === "scalar" && derived.has(f.name)) {
      emitEncodeCount(g, type.scalar, type.invariants, f.name, count.n, at, count.firstPath);
      continue;
    }
    if (type.kind === "arrayPointer" || type.kind === "areaPointer") {
      emitEncodeCounted(g, type, counted.get(f.name)!, at, field(path, f.name));
      continue;
    }
    emitEncodeType(g, type, `${v}.${f.name}`, at, field(path, f.name), false);
  }
}

function emitEncodeCount(
  g: Gen,
  scalar: keyof typeof SCALAR_INFO,
  invariants: Parameters<typeof emitInvariantChecks>[2],
  countField: string,
  n: string,
  loc: Loc,
  path: PathRef,
): void {
  const { em } = g;
  const info = SCALAR_INFO[scalar];
  const fail = (rule: string, detail: string) =>
    `h.failCount(${pathExpr(path)}, "${countField}", "${rule}", ${n}, ${JSON.stringify(detail)});`;
  let x = n;
  if (info.big) {
    x = em.fresh("x");
    em.line(`const ${x} = BigInt(${n});`);
  } else {
    em.line(`if (${n} > ${literal(scalar, info.max)}) ${fail("range", `max ${info.max}`)}`);
  }
  emitInvariantChecks(em, scalar, invariants, x, fail);
  em.line(writeScalar(scalar, loc.u8, loc.dv, offset(loc), x));
}

function emitEncodeCounted(
  g: Gen,
  type: Extract<FieldType, { kind: "arrayPointer" | "areaPointer" }>,
  a: string,
  loc: Loc,
  path: PathRef,
): void {
  const { em } = g;
  em.open(`if (${a}.length === 0)`);
  emitWritePhys(g, loc, "0");
  em.close();
  em.open("else");
  const pp = em.fresh("p");
  const ph = em.fresh("ph");
  em.line(`const ${pp} = ${pathExpr(path)};`);
  if (type.kind === "areaPointer") {
    em.line(`const ${ph} = h.store(c, ${a}, ${type.align}, ${pp});`);
  } else {
    const el = type.element();
    const size = sizeOf(el);
    const b = em.fresh("b");
    const d = em.fresh("d");
    const i = em.fresh("i");
    const e = em.fresh("e");
    em.line(`const ${b} = h.scratch(${a}.length, ${size}, ${pp}), ${d} = new DataView(${b}.buffer);`);
    em.open(`for (let ${i} = 0; ${i} < ${a}.length; ${i}++)`);
    em.line(`const ${e} = ${i} * ${size};`);
    emitEncodeType(
      g,
      el,
      `${a}[${i}]`,
      { u8: b, dv: d, base: e, k: 0 },
      element({ base: pp, parts: [] }, i),
      true,
    );
    em.close();
    em.line(`const ${ph} = h.store(c, ${b}, ${alignOf(el)}, ${pp});`);
  }
  emitWritePhys(g, loc, ph);
  em.close();
}
