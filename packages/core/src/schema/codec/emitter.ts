/**
 * Small building blocks of the code generator: a line emitter with fresh variable names, byte
 * locations and lazily evaluated field paths.
 *
 * @internal
 * @module
 */

/** Appends indented source lines and hands out unique local variable names. */
export class Emitter {
  private readonly lines: string[] = [];
  private indent = 1;
  private counter = 0;

  /** A fresh local name such as `_x12` (never clashes with the parameters `u8 dv o c p v`). */
  fresh(prefix: string): string {
    return `_${prefix}${this.counter++}`;
  }

  /** Emits one line. */
  line(code: string): void {
    this.lines.push(`${"  ".repeat(this.indent)}${code}`);
  }

  /** Emits `head {` and indents. */
  open(head: string): void {
    this.line(`${head} {`);
    this.indent++;
  }

  /** Dedents and emits `}` (followed by `tail`). */
  close(tail = ""): void {
    this.indent--;
    this.line(`}${tail}`);
  }

  /** The source emitted so far. */
  source(): string {
    return this.lines.join("\n");
  }
}

/** Where a value sits: typed-array and DataView variables plus `base + k` byte offset. */
export interface Loc {
  /** Name of the `Uint8Array` variable. */
  readonly u8: string;
  /** Name of the `DataView` variable over the same bytes. */
  readonly dv: string;
  /** Variable holding the dynamic part of the offset (`""` when the offset is constant). */
  readonly base: string;
  /** Constant part of the offset. */
  readonly k: number;
}

/** The offset expression of `loc` plus `extra` bytes. */
export function offset(loc: Loc, extra = 0): string {
  const k = loc.k + extra;
  if (loc.base === "") return String(k);
  return k === 0 ? loc.base : `${loc.base} + ${k}`;
}

/** `loc` moved `extra` bytes further. */
export function shift(loc: Loc, extra: number): Loc {
  return { ...loc, k: loc.k + extra };
}

/**
 * A field path built only when an error is thrown: a variable holding the path prefix string plus
 * JavaScript expressions (string literals and index variables) appended to it.
 */
export interface PathRef {
  /** Variable holding the prefix (a function parameter `p` or a pointee path variable). */
  readonly base: string;
  /**
   * Variable holding an element index the prefix stands for (`base[index]`; negative: none), so a
   * decoder called once per array element gets its path as `(p, i)` instead of a string built
   * per element.
   */
  readonly index?: string;
  /** Expressions concatenated after the prefix. */
  readonly parts: readonly string[];
}

/** Path of field `name` under `path`. */
export function field(path: PathRef, name: string): PathRef {
  return append(path, JSON.stringify(`.${name}`));
}

/** Path of element `index` (a variable name) under `path`. */
export function element(path: PathRef, index: string): PathRef {
  return append(path, '"["', index, '"]"');
}

function append(path: PathRef, ...parts: string[]): PathRef {
  const merged = [...path.parts];
  for (const part of parts) {
    const last = merged[merged.length - 1];
    if (last?.startsWith('"') && part.startsWith('"')) {
      merged[merged.length - 1] = JSON.stringify(JSON.parse(last) + JSON.parse(part));
    } else {
      merged.push(part);
    }
  }
  return path.index === undefined
    ? { base: path.base, parts: merged }
    : { base: path.base, index: path.index, parts: merged };
}

/** JavaScript expression evaluating to the full path string. */
export function pathExpr(path: PathRef): string {
  return path.index === undefined
    ? `h.path(${path.base}, ${relExpr(path)})`
    : `h.at(${path.base}, ${path.index}, ${relExpr(path)})`;
}

/**
 * The arguments `p, i, rel` naming `path` for the runtime's `deref`, which joins them only when it
 * throws: following a pointer builds no path string.
 */
export function lazyPathArgs(path: PathRef): string {
  return `${path.base}, ${path.index ?? "-1"}, ${relExpr(path)}`;
}

function relExpr(path: PathRef): string {
  return path.parts.length === 0 ? '""' : path.parts.join(" + ");
}
