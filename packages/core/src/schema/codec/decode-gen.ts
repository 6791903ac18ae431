import { alignOf, placeStruct, sizeOf } from "../declare/size.js";
import type { AnyStruct, FieldType, InlineType } from "../declare/types.js";
import { element, field, type Loc, lazyPathArgs, offset, type PathRef, pathExpr, shift } from "./emitter.js";
import type { Gen } from "./program.js";
import { emitInvariantChecks, readScalar } from "./scalar-code.js";
import { derivedFields, hasPointers } from "./shape.js";

/**
 * Decoder code generation: straight-line DataView reads with inline invariant checks, pointers
 * followed through the runtime's checked `deref`.
 *
 * @internal
 * @module
 */

/** Emits a check that `n` bytes at `loc` are zero (32-bit words, then bytes; a loop when long). */
function emitZeroCheck(g: Gen, loc: Loc, n: number, path: PathRef): void {
  if (n > 16) {
    g.em.line(`if (!h.allZero(${loc.u8}, ${offset(loc)}, ${n})) h.failReserved(${pathExpr(path)});`);
    return;
  }
  const reads: string[] = [];
  let i = 0;
  for (; i + 4 <= n; i += 4) reads.push(`${loc.dv}.getUint32(${offset(loc, i)})`);
  for (; i < n; i++) reads.push(`${loc.u8}[${offset(loc, i)}]`);
  g.em.line(`if ((${reads.join(" | ")}) !== 0) h.failReserved(${pathExpr(path)});`);
}

/** Emits the read of a u64 physical address at `loc`; returns the variable holding it (a number). */
function emitReadPhys(g: Gen, loc: Loc, path: PathRef): string {
  const { em } = g;
  const lo = em.fresh("lo");
  const hi = em.fresh("hi");
  const a = em.fresh("ptr");
  em.line(
    `const ${lo} = ${loc.dv}.getUint32(${offset(loc)}, true), ${hi} = ${loc.dv}.getUint32(${offset(loc, 4)}, true);`,
  );
  em.line(`if (${hi} > 0x1fffff) h.failPointerRange(${pathExpr(path)}, ${hi}, ${lo});`);
  em.line(`const ${a} = ${hi} * 4294967296 + ${lo};`);
  return a;
}

/** Emits the decoding of inline type `type` at `loc`; returns the expression of the value. */
function emitDecodeType(g: Gen, type: InlineType, loc: Loc, path: PathRef, behind: boolean): string {
  const { em } = g;
  switch (type.kind) {
    case "scalar": {
      const x = em.fresh("x");
      em.line(`const ${x} = ${readScalar(type.scalar, loc.u8, loc.dv, offset(loc))};`);
      emitInvariantChecks(
        em,
        type.scalar,
        type.invariants,
        x,
        (rule, detail) => `h.failInvariant(${pathExpr(path)}, "${rule}", ${x}, ${JSON.stringify(detail)});`,
      );
      return x;
    }
    case "bool": {
      const x = em.fresh("x");
      em.line(`const ${x} = ${loc.u8}[${offset(loc)}];`);
      em.line(`if (${x} > 1) h.failBoolByte(${pathExpr(path)}, ${x});`);
      return `(${x} === 1)`;
    }
    case "chars": {
      const x = em.fresh("x");
      em.line(`const ${x} = h.readChars(${loc.u8}, ${offset(loc)}, ${type.length}, ${type.nulTerminated});`);
      em.line(`if (typeof ${x} === "number") h.failChars(${pathExpr(path)}, ${x});`);
      return x;
    }
    case "bytes": {
      const x = em.fresh("x");
      em.line(`const ${x} = ${loc.u8}.slice(${offset(loc)}, ${offset(loc, type.length)});`);
      return x;
    }
    case "array": {
      const a = em.fresh("a");
      const i = em.fresh("i");
      const e = em.fresh("e");
      // Presized with indexed stores: measurably faster than push() for fixed-length arrays.
      em.line(`const ${a} = new Array(${type.length});`);
      em.open(`for (let ${i} = 0; ${i} < ${type.length}; ${i}++)`);
      em.line(`const ${e} = ${offset(loc)} + ${i} * ${sizeOf(type.element)};`);
      const r = emitDecodeType(
        g,
        type.element,
        { u8: loc.u8, dv: loc.dv, base: e, k: 0 },
        element(path, i),
        behind,
      );
      em.line(`${a}[${i}] = ${r};`);
      em.close();
      return a;
    }
    case "struct": {
      if (behind && hasPointers(type)) {
        const k = g.program.functionOf(type);
        const x = em.fresh("s");
        // An element of a pointee array passes its index along; other paths are joined here.
        const args =
          path.parts.length === 0 ? `${path.base}, ${path.index ?? "-1"}` : `${pathExpr(path)}, -1`;
        em.line(`const ${x} = D${k}(${loc.u8}, ${loc.dv}, ${offset(loc)}, c, ${args});`);
        return x;
      }
      return emitDecodeStruct(g, type, loc, path);
    }
    case "pointer": {
      const target = type.target();
      const size = sizeOf(target);
      const a = emitReadPhys(g, loc, path);
      const t = em.fresh("t");
      em.line(`let ${t};`);
      em.open(`if (${a} === 0)`);
      if (!type.nullable) em.line(`h.failNull(${pathExpr(path)});`);
      em.line(`${t} = null;`);
      em.close();
      em.open("else");
      const b = em.fresh("b");
      const d = em.fresh("d");
      const u = em.fresh("u");
      const k = em.fresh("k");
      // The pointee's path is joined only for a decoder function it calls (or when a check fails).
      const pointee = materializedIf(g, path, target.kind === "struct" && hasPointers(target));
      em.line(`const ${b} = h.deref(c, ${a}, 1, ${size}, ${alignOf(target)}, ${lazyPathArgs(pointee)});`);
      // Whole-buffer views (cached by the runtime) at the pointee's offset: a DataView per pointee
      // costs more than decoding a small struct.
      em.line(`const ${u} = h.u8Of(${b}), ${d} = h.dvOf(${b}), ${k} = ${b}.byteOffset;`);
      const r = emitDecodeType(g, target, { u8: u, dv: d, base: k, k: 0 }, pointee, true);
      em.line(`${t} = ${r};`);
      em.line(`h.leave(c, ${a}, ${size});`);
      em.close();
      return t;
    }
  }
}

/** Emits the decoding of `struct` at `loc`; returns an object-literal expression of the value. */
export function emitDecodeStruct(g: Gen, struct: AnyStruct, loc: Loc, path: PathRef): string {
  const { em } = g;
  const derived = derivedFields(struct);
  const values = new Map<string, string>();
  const deferred: { name: string; type: FieldType; loc: Loc }[] = [];
  // Pass 1: everything inline (cheap checks first), counts included.
  for (const f of placeStruct(struct).fields) {
    const at = shift(loc, f.offset);
    const type = f.type;
    if (type === undefined || type.kind === "reserved") {
      emitZeroCheck(g, at, f.size, field(path, f.name));
    } else if (type.kind === "pointer" || type.kind === "arrayPointer" || type.kind === "areaPointer") {
      deferred.push({ name: f.name, type, loc: at });
    } else {
      values.set(f.name, emitDecodeType(g, type, at, field(path, f.name), false));
    }
  }
  // Counts as safe integers.
  const counts = new Map<string, string>();
  for (const name of derived.keys()) {
    const type = struct.fields[name]!;
    const x = values.get(name)!;
    if (type.kind === "scalar" && (type.scalar === "u64" || type.scalar === "i64")) {
      const n = em.fresh("n");
      em.line(`if (${x} > 9007199254740991n) h.failCountRange(${pathExpr(field(path, name))}, ${x});`);
      em.line(`const ${n} = Number(${x});`);
      counts.set(name, n);
    } else {
      counts.set(name, x);
    }
  }
  // Pass 2: pointers.
  for (const { name, type, loc: at } of deferred) {
    const fpath = field(path, name);
    if (type.kind === "pointer") {
      values.set(name, emitDecodeType(g, type, at, fpath, false));
    } else if (type.kind === "arrayPointer" || type.kind === "areaPointer") {
      const n = counts.get(type.kind === "arrayPointer" ? type.count : type.length)!;
      values.set(name, emitDecodeCounted(g, type, n, at, fpath));
    }
  }
  const props: string[] = [];
  for (const [name, type] of Object.entries(struct.fields)) {
    if (type.kind === "reserved" || derived.has(name)) continue;
    props.push(`${name}: ${values.get(name)!}`);
  }
  const obj = em.fresh("o");
  em.line(`const ${obj} = { ${props.join(", ")} };`);
  return obj;
}

function emitDecodeCounted(
  g: Gen,
  type: Extract<FieldType, { kind: "arrayPointer" | "areaPointer" }>,
  n: string,
  loc: Loc,
  path: PathRef,
): string {
  const { em } = g;
  const a = emitReadPhys(g, loc, path);
  const t = em.fresh("t");
  em.line(`let ${t};`);
  em.open(`if (${a} === 0)`);
  em.line(`if (${n} !== 0) h.failNull(${pathExpr(path)});`);
  em.line(type.kind === "areaPointer" ? `${t} = new Uint8Array(0);` : `${t} = [];`);
  em.close();
  em.open("else");
  em.line(`if (${n} === 0) h.failDangling(${pathExpr(path)}, ${a});`);
  const b = em.fresh("b");
  if (type.kind === "areaPointer") {
    em.line(`const ${b} = h.deref(c, ${a}, ${n}, 1, ${type.align}, ${lazyPathArgs(path)});`);
    em.line(`${t} = ${b}.slice();`);
    em.line(`h.leave(c, ${a}, ${n});`);
  } else {
    const el = type.element();
    const size = sizeOf(el);
    const d = em.fresh("d");
    const i = em.fresh("i");
    const e = em.fresh("e");
    const u = em.fresh("u");
    const k = em.fresh("k");
    // Elements that are decoder calls get `(pointee path, index)`; inline ones a lazy path.
    const pointee = materializedIf(g, path, el.kind === "struct" && hasPointers(el));
    em.line(`const ${b} = h.deref(c, ${a}, ${n}, ${size}, ${alignOf(el)}, ${lazyPathArgs(pointee)});`);
    em.line(`const ${u} = h.u8Of(${b}), ${d} = h.dvOf(${b}), ${k} = ${b}.byteOffset;`);
    // Presized up to a bound (a huge `new Array(n)` would be a slow dictionary array).
    em.line(`${t} = ${n} <= 4096 ? new Array(${n}) : [];`);
    em.open(`for (let ${i} = 0; ${i} < ${n}; ${i}++)`);
    em.line(`const ${e} = ${k} + ${i} * ${size};`);
    const r = emitDecodeType(
      g,
      el,
      { u8: u, dv: d, base: e, k: 0 },
      pointee.parts.length === 0 && pointee.index === undefined
        ? { base: pointee.base, index: i, parts: [] }
        : element(pointee, i),
      true,
    );
    em.line(`${t}[${i}] = ${r};`);
    em.close();
    em.line(`h.leave(c, ${a}, ${n} * ${size});`);
  }
  em.close();
  return t;
}

/**
 * `path` itself, or — when `needed` (the pointee is decoded by a generated function, which takes
 * its path as a string) — a variable holding it, joined once per pointee.
 */
function materializedIf(g: Gen, path: PathRef, needed: boolean): PathRef {
  if (!needed) return path;
  const pp = g.em.fresh("p");
  g.em.line(`const ${pp} = ${pathExpr(path)};`);
  return { base: pp, parts: [] };
}
