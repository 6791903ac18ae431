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
import type { SchemaDump, SchemaVersionDump } from "./json.js";

/**
 * What a change means for one reader: `compatible` (every value the writer can produce is read
 * identically), `may-refuse` (some values are refused with a typed error — never misread), or
 * `incompatible` (data is misread, or always refused).
 */
export type CompatibilityImpact = "compatible" | "may-refuse" | "incompatible";

/** What changed about one field, struct or version. */
export type LayoutChangeKind =
  | "field-added"
  | "field-removed"
  | "field-renamed"
  | "field-moved"
  | "field-resized"
  | "field-retyped"
  | "invariants-changed"
  | "struct-renamed"
  | "struct-resized"
  | "struct-realigned"
  | "pointer-changed"
  | "version-added"
  | "version-removed";

/** One reported difference, with its impact in both directions. */
export interface LayoutChange {
  /** What changed. */
  readonly kind: LayoutChangeKind;
  /** Where: a field path such as `queues[*].prio` or `head*.next`, `""` for the root struct. */
  readonly path: string;
  /** Human-readable one-line description. */
  readonly detail: string;
  /** Old kernel (first dump) reading data the new kernel (second dump) writes for this version. */
  readonly oldReadsNew: CompatibilityImpact;
  /** New kernel (second dump) reading data the old kernel (first dump) wrote for this version. */
  readonly newReadsOld: CompatibilityImpact;
}

/** The comparison of one version number across the two dumps. */
export interface VersionComparison {
  /** Version number. */
  readonly version: number;
  /** Compatible string. */
  readonly compatible: string;
  /** `unchanged` (same layout hash), `changed`, `added` (only new) or `removed` (only old). */
  readonly status: "unchanged" | "changed" | "added" | "removed";
  /** Whether the version exists in the old dump, i.e. was released. */
  readonly released: boolean;
  /** Every difference found (empty when unchanged). */
  readonly changes: readonly LayoutChange[];
  /** Worst impact over {@link VersionComparison.changes} for the old kernel reading new data. */
  readonly oldReadsNew: CompatibilityImpact;
  /** Worst impact over {@link VersionComparison.changes} for the new kernel reading old data. */
  readonly newReadsOld: CompatibilityImpact;
  /** True when a released version is no longer read identically in some direction. */
  readonly breaking: boolean;
}

/** A change of a migrator pair's kind between the two dumps. */
export interface MigratorChange {
  /** Lower version of the pair. */
  readonly from: number;
  /** Upper version of the pair. */
  readonly to: number;
  /** Kind in the old dump (`undefined`: no such pair). */
  readonly old: string | undefined;
  /** Kind in the new dump (`undefined`: no such pair). */
  readonly new: string | undefined;
}

/** Result of {@link compareSchemaDumps}. */
export interface SchemaDumpComparison {
  /** Driver name. */
  readonly driver: string;
  /** One entry per version number in either dump, ascending. */
  readonly versions: readonly VersionComparison[];
  /** Migrator pairs whose kind was added, removed or changed. */
  readonly migrators: readonly MigratorChange[];
  /** True when any released version breaks (see {@link VersionComparison.breaking}). */
  readonly breaking: boolean;
}

const RANK: Record<CompatibilityImpact, number> = { compatible: 0, "may-refuse": 1, incompatible: 2 };

function worst(...impacts: CompatibilityImpact[]): CompatibilityImpact {
  return impacts.reduce((a, b) => (RANK[b] > RANK[a] ? b : a), "compatible");
}

// ---------------------------------------------------------------------------------------------
// Invariants as value sets

function admits(inv: InvariantsLayout | undefined, scalar: ScalarName, v: bigint): boolean {
  const info = SCALAR_INFO[scalar];
  if (v < info.min || v > info.max) return false;
  if (inv === undefined) return true;
  if (inv.mustBeZero && v !== 0n) return false;
  if (inv.min !== undefined && v < BigInt(inv.min)) return false;
  if (inv.max !== undefined && v > BigInt(inv.max)) return false;
  if (inv.enum !== undefined && !inv.enum.some((m) => BigInt(m.value) === v)) return false;
  if (inv.mask !== undefined) {
    const bits = v < 0n ? v & ((1n << BigInt(info.size * 8)) - 1n) : v;
    if ((bits & ~BigInt(inv.mask)) !== 0n) return false;
  }
  return true;
}

function bitLength(v: bigint): bigint {
  let n = 0n;
  while (v > 0n) {
    v >>= 1n;
    n++;
  }
  return n;
}

/**
 * Whether every value `a` admits is admitted by `b` (both on `scalar`). Exact for enums,
 * must-be-zero and small ranges; otherwise conservative (may answer `false` for a true subset).
 */
export function invariantsSubset(
  a: InvariantsLayout | undefined,
  b: InvariantsLayout | undefined,
  scalar: ScalarName,
): boolean {
  const info = SCALAR_INFO[scalar];
  if (a?.mustBeZero) return admits(b, scalar, 0n);
  if (a?.enum !== undefined) {
    return a.enum.map((m) => BigInt(m.value)).every((v) => !admits(a, scalar, v) || admits(b, scalar, v));
  }
  let lo = info.min;
  let hi = info.max;
  if (a?.min !== undefined && BigInt(a.min) > lo) lo = BigInt(a.min);
  if (a?.max !== undefined && BigInt(a.max) < hi) hi = BigInt(a.max);
  // Values with bits only inside a mask never exceed the mask.
  if (a?.mask !== undefined && lo >= 0n && BigInt(a.mask) < hi) hi = BigInt(a.mask);
  if (lo > hi) return true;
  if (hi - lo <= 4096n) {
    for (let v = lo; v <= hi; v++) if (admits(a, scalar, v) && !admits(b, scalar, v)) return false;
    return true;
  }
  if (b === undefined) return true;
  if (b.mustBeZero || b.enum !== undefined) return false;
  if (b.min !== undefined && lo < BigInt(b.min)) return false;
  if (b.max !== undefined && hi > BigInt(b.max)) return false;
  if (b.mask !== undefined) {
    const allowed = BigInt(b.mask);
    let bits: bigint;
    if (a?.mask !== undefined) bits = BigInt(a.mask);
    else if (lo >= 0n) bits = (1n << bitLength(hi)) - 1n;
    else return false;
    if ((bits & ~allowed) !== 0n) return false;
  }
  return true;
}

/** Whether an all-zero encoding of `type` decodes successfully (what a reader sees in reserved bytes). */
function zeroDecodes(
  type: TypeLayout,
  structs: ReadonlyMap<string, StructLayout>,
  seen = new Set<string>(),
): boolean {
  switch (type.kind) {
    case "scalar":
      return admits(type.invariants, type.scalar, 0n);
    case "array":
      return zeroDecodes(type.element, structs, seen);
    case "struct": {
      if (seen.has(type.name)) return true;
      seen.add(type.name);
      const s = structs.get(type.name);
      return s?.fields.every((f) => zeroDecodes(f.type, structs, seen)) ?? false;
    }
    case "pointer":
      return type.nullable;
    default:
      // bool false, empty string, zero bytes, empty array/area pointers (count 0, phys 0).
      return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Structural comparison

function typeSummary(t: TypeLayout): string {
  switch (t.kind) {
    case "scalar":
      return t.scalar;
    case "array":
      return `${typeSummary(t.element)}[${t.length}]`;
    case "struct":
      return `struct ${t.name}`;
    case "chars":
      return `char[${t.length}]`;
    case "bytes":
    case "reserved":
    case "padding":
      return `${t.kind}[${t.length}]`;
    case "pointer":
      return `*${typeSummary(t.target)}`;
    case "arrayPointer":
      return `*${typeSummary(t.element)}[${t.count}]`;
    case "areaPointer":
      return `*u8[${t.length}]`;
    case "bool":
      return "bool";
  }
}

function invText(inv: InvariantsLayout | undefined): string {
  return inv === undefined ? "none" : canonicalJson(inv);
}

const isFree = (f: FieldLayout) => f.type.kind === "padding" || f.type.kind === "reserved";

class Comparer {
  readonly changes: LayoutChange[] = [];
  private readonly visited = new Set<string>();
  private readonly oldStructs: Map<string, StructLayout>;
  private readonly newStructs: Map<string, StructLayout>;

  constructor(oldLayout: SchemaLayout, newLayout: SchemaLayout) {
    this.oldStructs = new Map(oldLayout.structs.map((s) => [s.name, s]));
    this.newStructs = new Map(newLayout.structs.map((s) => [s.name, s]));
  }

  private add(
    kind: LayoutChangeKind,
    path: string,
    detail: string,
    oldReadsNew: CompatibilityImpact,
    newReadsOld: CompatibilityImpact,
  ): void {
    this.changes.push({ kind, path, detail, oldReadsNew, newReadsOld });
  }

  private struct(name: string, which: "old" | "new"): StructLayout {
    const s = (which === "old" ? this.oldStructs : this.newStructs).get(name);
    if (s === undefined)
      throw new SchemaDumpInvalidError(`schema dump: struct ${name} is referenced but not described`);
    return s;
  }

  compareStructs(oldName: string, newName: string, path: string): void {
    // Each pair of structs is compared once, at the first path that reaches it.
    const pairKey = `${oldName}\u0000${newName}`;
    if (this.visited.has(pairKey)) return;
    this.visited.add(pairKey);
    const o = this.struct(oldName, "old");
    const n = this.struct(newName, "new");
    const at = path === "" ? "root struct" : path;
    if (o.name !== n.name) {
      this.add(
        "struct-renamed",
        path,
        `${at}: struct ${o.name} renamed to ${n.name}`,
        "compatible",
        "compatible",
      );
    }
    if (o.size !== n.size) {
      this.add(
        "struct-resized",
        path,
        `${at}: struct ${o.name} size ${o.size} -> ${n.size}`,
        "incompatible",
        "incompatible",
      );
    }
    if (o.align !== n.align) {
      // Alignment matters where the struct is pointed to: a stricter reader refuses misaligned pointers.
      this.add(
        "struct-realigned",
        path,
        `${at}: struct ${o.name} alignment ${o.align} -> ${n.align}`,
        o.align > n.align ? "may-refuse" : "compatible",
        n.align > o.align ? "may-refuse" : "compatible",
      );
    }
    const join = (f: string) => (path === "" ? f : `${path}.${f}`);
    const oldFields = new Map(o.fields.filter((f) => !isFree(f)).map((f) => [f.name, f]));
    const newFields = new Map(n.fields.filter((f) => !isFree(f)).map((f) => [f.name, f]));
    const removed = [...oldFields.values()].filter((f) => !newFields.has(f.name));
    const added = [...newFields.values()].filter((f) => !oldFields.has(f.name));
    // A removed and an added field with the same bytes and type: a rename (wire-compatible).
    for (const r of [...removed]) {
      const twin = added.find(
        (a) => a.offset === r.offset && a.size === r.size && canonicalJson(a.type) === canonicalJson(r.type),
      );
      if (twin !== undefined) {
        this.add(
          "field-renamed",
          join(twin.name),
          `${join(r.name)} renamed to ${twin.name}`,
          "compatible",
          "compatible",
        );
        removed.splice(removed.indexOf(r), 1);
        added.splice(added.indexOf(twin), 1);
      }
    }
    const freeIn = (s: StructLayout, offset: number, size: number, extraFree: readonly FieldLayout[]) =>
      s.fields
        .filter((f) => f.offset < offset + size && offset < f.offset + f.size)
        .every((f) => isFree(f) || extraFree.includes(f));
    for (const a of added) {
      const p = join(a.name);
      if (freeIn(o, a.offset, a.size, removed)) {
        // Taken from reserved/padding bytes: old readers refuse non-zero values there; new readers
        // of old data see zero.
        const zeroOk = zeroDecodes(a.type, this.newStructs);
        this.add(
          "field-added",
          p,
          `${p} (${typeSummary(a.type)}) added at offset ${a.offset} in formerly reserved/padding bytes`,
          "may-refuse",
          zeroOk ? "compatible" : "incompatible",
        );
      } else {
        this.add(
          "field-added",
          p,
          `${p} (${typeSummary(a.type)}) added at offset ${a.offset}`,
          "incompatible",
          "incompatible",
        );
      }
    }
    for (const r of removed) {
      const p = join(r.name);
      if (freeIn(n, r.offset, r.size, [])) {
        const zeroOk = zeroDecodes(r.type, this.oldStructs);
        const mustBeZero = r.type.kind === "scalar" && r.type.invariants?.mustBeZero === true;
        this.add(
          "field-removed",
          p,
          `${p} (${typeSummary(r.type)}) at offset ${r.offset} removed; its bytes are now reserved/padding`,
          zeroOk ? "compatible" : "incompatible",
          mustBeZero ? "compatible" : "may-refuse",
        );
      } else {
        this.add(
          "field-removed",
          p,
          `${p} (${typeSummary(r.type)}) at offset ${r.offset} removed`,
          "incompatible",
          "incompatible",
        );
      }
    }
    for (const [name, of] of oldFields) {
      const nf = newFields.get(name);
      if (nf === undefined) continue;
      const p = join(name);
      if (of.offset !== nf.offset) {
        this.add(
          "field-moved",
          p,
          `${p} moved from offset ${of.offset} to ${nf.offset}`,
          "incompatible",
          "incompatible",
        );
      }
      if (of.size !== nf.size) {
        this.add("field-resized", p, `${p} size ${of.size} -> ${nf.size}`, "incompatible", "incompatible");
      }
      this.compareTypes(of.type, nf.type, p, o, n);
    }
  }

  private counterpartOffset(s: StructLayout, field: string): number | undefined {
    return s.fields.find((f) => f.name === field)?.offset;
  }

  compareTypes(o: TypeLayout, n: TypeLayout, path: string, os: StructLayout, ns: StructLayout): void {
    if (o.kind !== n.kind) {
      this.add(
        "field-retyped",
        path,
        `${path}: ${typeSummary(o)} -> ${typeSummary(n)}`,
        "incompatible",
        "incompatible",
      );
      return;
    }
    switch (o.kind) {
      case "scalar": {
        const nn = n as typeof o;
        if (o.scalar !== nn.scalar) {
          const same = SCALAR_INFO[o.scalar].size === SCALAR_INFO[nn.scalar].size;
          this.add(
            "field-retyped",
            path,
            `${path}: ${o.scalar} -> ${nn.scalar}${same ? " (values reinterpreted)" : ""}`,
            "incompatible",
            "incompatible",
          );
          return;
        }
        if (invText(o.invariants) !== invText(nn.invariants)) {
          const newInOld = invariantsSubset(nn.invariants, o.invariants, o.scalar);
          const oldInNew = invariantsSubset(o.invariants, nn.invariants, o.scalar);
          const how =
            newInOld && oldInNew ? "equivalent" : newInOld ? "narrowed" : oldInNew ? "widened" : "changed";
          this.add(
            "invariants-changed",
            path,
            `${path}: invariants ${how}: ${invText(o.invariants)} -> ${invText(nn.invariants)}`,
            newInOld ? "compatible" : "may-refuse",
            oldInNew ? "compatible" : "may-refuse",
          );
        }
        return;
      }
      case "chars": {
        const nn = n as typeof o;
        if (o.length !== nn.length) {
          this.add(
            "field-resized",
            path,
            `${path}: char[${o.length}] -> char[${nn.length}]`,
            "incompatible",
            "incompatible",
          );
        } else if (o.nulTerminated !== nn.nulTerminated) {
          this.add(
            "invariants-changed",
            path,
            `${path}: NUL terminator ${o.nulTerminated ? "no longer required" : "now required"}`,
            o.nulTerminated ? "may-refuse" : "compatible",
            nn.nulTerminated ? "may-refuse" : "compatible",
          );
        }
        return;
      }
      case "bytes": {
        const nn = n as typeof o;
        if (o.length !== nn.length) {
          this.add(
            "field-resized",
            path,
            `${path}: bytes[${o.length}] -> bytes[${nn.length}]`,
            "incompatible",
            "incompatible",
          );
        }
        return;
      }
      case "array": {
        const nn = n as typeof o;
        if (o.length !== nn.length) {
          this.add(
            "field-resized",
            path,
            `${path}: array length ${o.length} -> ${nn.length}`,
            "incompatible",
            "incompatible",
          );
        }
        this.compareTypes(o.element, nn.element, `${path}[*]`, os, ns);
        return;
      }
      case "struct":
        this.compareStructs(o.name, (n as typeof o).name, path);
        return;
      case "pointer": {
        const nn = n as typeof o;
        if (o.nullable !== nn.nullable) {
          this.add(
            "pointer-changed",
            path,
            `${path}: pointer ${nn.nullable ? "now nullable" : "no longer nullable"}`,
            nn.nullable ? "may-refuse" : "compatible",
            nn.nullable ? "compatible" : "may-refuse",
          );
        }
        if (o.targetAlign !== nn.targetAlign) {
          this.add(
            "pointer-changed",
            path,
            `${path}: pointee alignment ${o.targetAlign} -> ${nn.targetAlign}`,
            o.targetAlign > nn.targetAlign ? "may-refuse" : "compatible",
            nn.targetAlign > o.targetAlign ? "may-refuse" : "compatible",
          );
        }
        if (o.targetSize !== nn.targetSize && o.target.kind !== "struct") {
          this.add(
            "pointer-changed",
            path,
            `${path}: pointee size ${o.targetSize} -> ${nn.targetSize}`,
            "incompatible",
            "incompatible",
          );
        }
        this.compareTypes(o.target, nn.target, `${path}*`, os, ns);
        return;
      }
      case "arrayPointer": {
        const nn = n as typeof o;
        if (this.counterpartOffset(os, o.count) !== this.counterpartOffset(ns, nn.count)) {
          this.add(
            "pointer-changed",
            path,
            `${path}: count field ${o.count} -> ${nn.count} at another offset`,
            "incompatible",
            "incompatible",
          );
        }
        if (o.elementSize !== nn.elementSize) {
          this.add(
            "pointer-changed",
            path,
            `${path}: element size ${o.elementSize} -> ${nn.elementSize}`,
            "incompatible",
            "incompatible",
          );
        }
        this.compareTypes(o.element, nn.element, `${path}[*]`, os, ns);
        return;
      }
      case "areaPointer": {
        const nn = n as typeof o;
        if (this.counterpartOffset(os, o.length) !== this.counterpartOffset(ns, nn.length)) {
          this.add(
            "pointer-changed",
            path,
            `${path}: length field ${o.length} -> ${nn.length} at another offset`,
            "incompatible",
            "incompatible",
          );
        }
        if (o.align !== nn.align) {
          this.add(
            "pointer-changed",
            path,
            `${path}: area alignment ${o.align} -> ${nn.align}`,
            o.align > nn.align ? "may-refuse" : "compatible",
            nn.align > o.align ? "may-refuse" : "compatible",
          );
        }
        return;
      }
      default:
        return;
    }
  }
}

function compareVersion(o: SchemaVersionDump, n: SchemaVersionDump): LayoutChange[] {
  const comparer = new Comparer(o.layout, n.layout);
  comparer.compareStructs(o.layout.root, n.layout.root, "");
  return comparer.changes;
}

/**
 * Compares two schema dumps of one driver — typically the last release (`oldDump`) and the current
 * tree (`newDump`) — like QEMU's vmstate-static-checker: per version, what changed (fields added,
 * removed, renamed, moved, resized, retyped; invariants; struct sizes and alignments; pointers)
 * and what it means in both directions: an old kernel reading data the new one writes, and a new
 * kernel reading data the old one wrote. A version present in the old dump is released, so any
 * change that is not `compatible` both ways breaks it; new versions are never breaking (the
 * catalog and negotiation decide who writes them), removed ones always are.
 *
 * @throws SchemaDumpInvalidError when the dumps describe different drivers.
 * @example
 * ```ts
 * const report = compareSchemaDumps(parseSchemaDump(released), describeSchema(Memfd));
 * if (report.breaking) throw new Error(formatDumpComparison(report));
 * ```
 */
export function compareSchemaDumps(oldDump: SchemaDump, newDump: SchemaDump): SchemaDumpComparison {
  if (oldDump.driver !== newDump.driver) {
    throw new SchemaDumpInvalidError(`cannot compare dumps of ${oldDump.driver} and ${newDump.driver}`, {
      driver: newDump.driver,
      oldDriver: oldDump.driver,
    });
  }
  const count = Math.max(oldDump.versions.length, newDump.versions.length);
  const versions: VersionComparison[] = [];
  for (let v = 1; v <= count; v++) {
    const o = oldDump.versions[v - 1];
    const n = newDump.versions[v - 1];
    const compatible = (n ?? o)!.compatible;
    if (o === undefined) {
      versions.push({
        version: v,
        compatible,
        status: "added",
        released: false,
        changes: [
          {
            kind: "version-added",
            path: "",
            detail: `${compatible} is new: old kernels cannot read it (negotiation picks an older version for them)`,
            oldReadsNew: "incompatible",
            newReadsOld: "compatible",
          },
        ],
        oldReadsNew: "incompatible",
        newReadsOld: "compatible",
        breaking: false,
      });
      continue;
    }
    if (n === undefined) {
      versions.push({
        version: v,
        compatible,
        status: "removed",
        released: true,
        changes: [
          {
            kind: "version-removed",
            path: "",
            detail: `released ${compatible} was removed: new kernels can no longer read data old kernels write in it`,
            oldReadsNew: "compatible",
            newReadsOld: "incompatible",
          },
        ],
        oldReadsNew: "compatible",
        newReadsOld: "incompatible",
        breaking: true,
      });
      continue;
    }
    const same = o.hash === n.hash && canonicalJson(o.layout) === canonicalJson(n.layout);
    const changes = same ? [] : compareVersion(o, n);
    const oldReadsNew = worst(...changes.map((c) => c.oldReadsNew));
    const newReadsOld = worst(...changes.map((c) => c.newReadsOld));
    versions.push({
      version: v,
      compatible,
      status: same ? "unchanged" : "changed",
      released: true,
      changes,
      oldReadsNew,
      newReadsOld,
      breaking: oldReadsNew !== "compatible" || newReadsOld !== "compatible",
    });
  }
  const migrators: MigratorChange[] = [];
  const pairs = Math.max(oldDump.migrators.length, newDump.migrators.length);
  for (let i = 0; i < pairs; i++) {
    const o = oldDump.migrators[i]?.kind;
    const n = newDump.migrators[i]?.kind;
    if (o !== n) migrators.push({ from: i + 1, to: i + 2, old: o, new: n });
  }
  return { driver: newDump.driver, versions, migrators, breaking: versions.some((v) => v.breaking) };
}

/**
 * Renders a comparison as plain text, one block per version that is not unchanged, each change
 * with its two-direction impact (`old<-new` = old kernel reading new data, `new<-old` = the reverse).
 */
export function formatDumpComparison(report: SchemaDumpComparison): string {
  const lines = [
    `schema ${report.driver}: ${report.breaking ? "BREAKS a released version" : "no released version broken"}`,
  ];
  for (const v of report.versions) {
    if (v.status === "unchanged") {
      lines.push(`  ${v.compatible}: unchanged`);
      continue;
    }
    const verdict = v.breaking ? "BREAKING" : "ok";
    lines.push(
      `  ${v.compatible}: ${v.status}, ${verdict} (old<-new: ${v.oldReadsNew}, new<-old: ${v.newReadsOld})`,
    );
    for (const c of v.changes) {
      lines.push(`    - ${c.kind}: ${c.detail} [old<-new: ${c.oldReadsNew}, new<-old: ${c.newReadsOld}]`);
    }
  }
  for (const m of report.migrators) {
    lines.push(`  migrator v${m.from}<->v${m.to}: ${m.old ?? "none"} -> ${m.new ?? "none"}`);
  }
  return `${lines.join("\n")}\n`;
}
