/**
 * The in-memory devicetree model: {@link FdtNode} (named node with ordered properties and children,
 * typed getters and setters) and {@link FdtTree} (a root plus the blob-level memory reservations and
 * boot CPU id).
 *
 * Byte order: devicetree cells are big-endian, so {@link FdtNode.getU32}, {@link FdtNode.getU64}
 * and their setters are big-endian. KHO's `preserved-memory-map` and per-subtree `fdt` properties
 * are different: upstream stores them as *native-endian* u64 (`fdt_property(fdt, name, &phys, 8)`),
 * which is little-endian on x86 and arm64. Use {@link FdtNode.setU64le} / {@link FdtNode.getU64le}
 * for those, and {@link FdtNode.setU64be} / {@link FdtNode.getU64be} where a big-endian value is
 * meant explicitly.
 *
 * @module
 */
import {
  FdtBadNameError,
  FdtBadStateError,
  FdtBadValueError,
  FdtDuplicateNameError,
  FdtNotFoundError,
} from "./errors.js";
import {
  checkPropertyName,
  checkU32,
  decodeUtf8,
  encodeStringList,
  isValidFdtNodeName,
  toU64,
} from "./values.js";

/** One entry of the blob's memory reservation block. */
export interface FdtReservation {
  /** Physical start address. */
  readonly address: bigint;
  /** Size in bytes; never 0 (a zero size ends the reservation block). */
  readonly size: bigint;
}

/** A whole devicetree: the root node plus the blob-level data that lives outside the node tree. */
export interface FdtTree {
  /** The root node (named `""`, printed `/`). */
  readonly root: FdtNode;
  /** Memory reservation entries (`/memreserve/`), in blob order. */
  readonly reservations: readonly FdtReservation[];
  /** The header's `boot_cpuid_phys`. */
  readonly bootCpuidPhys: number;
}

/** Options of {@link createFdtTree}. */
export interface FdtTreeOptions {
  /** Root node to use; a new empty root by default. */
  readonly root?: FdtNode;
  /** Memory reservation entries; none by default. */
  readonly reservations?: readonly FdtReservation[];
  /** The header's `boot_cpuid_phys`; 0 by default. */
  readonly bootCpuidPhys?: number;
}

/**
 * Visits `root` and its subnodes depth first, children in order, without recursion (a deep tree
 * must not overflow the JS stack): `enter` before a node's children, `leave` after them. `index`
 * is the node's position among its parent's children (0 for the root).
 *
 * @internal
 */
export function walkFdt(
  root: FdtNode,
  enter: (node: FdtNode, depth: number, index: number, parent: FdtNode | undefined) => void,
  leave: (node: FdtNode, depth: number) => void,
): void {
  const stack: { node: FdtNode; next: number }[] = [];
  enter(root, 0, 0, undefined);
  stack.push({ node: root, next: 0 });
  while (stack.length > 0) {
    const top = stack.at(-1)!;
    const index = top.next++;
    const child = top.node.children[index];
    if (child === undefined) {
      stack.pop();
      leave(top.node, stack.length);
    } else {
      enter(child, stack.length, index, top.node);
      stack.push({ node: child, next: 0 });
    }
  }
}

/** Creates an {@link FdtTree}, by default with an empty root, no reservations and boot CPU 0. */
export function createFdtTree(options: FdtTreeOptions = {}): FdtTree {
  return {
    root: options.root ?? new FdtNode(""),
    reservations: options.reservations ?? [],
    bootCpuidPhys: options.bootCpuidPhys ?? 0,
  };
}

const NO_CHILDREN: readonly FdtNode[] = Object.freeze([]);

/**
 * A devicetree node: a name (with optional `@unit-address`), ordered properties (raw byte values)
 * and ordered, uniquely named children.
 *
 * Getters throw {@link FdtNotFoundError} for a missing property and {@link FdtBadValueError} for a
 * value of the wrong shape; `find*` variants return `undefined` instead. Byte arrays returned by
 * getters are the stored values, not copies: do not mutate them.
 *
 * @example
 * ```ts
 * const root = new FdtNode("");
 * root.setStringList("compatible", ["kho-v1"]).setU64le("preserved-memory-map", 0x1234_5000n);
 * root.addChild("memblock").setU64le("fdt", 0x2000_0000n);
 * root.getChild("memblock").getU64le("fdt"); // 0x2000_0000n
 * ```
 */
export class FdtNode {
  /** Full node name including any `@unit-address`; `""` for the root. */
  readonly name: string;
  #parent: FdtNode | undefined;
  readonly #properties = new Map<string, Uint8Array>();
  // Allocated with the first child: most nodes of a handover are leaves.
  #children: FdtNode[] | undefined;
  #childIndex: Map<string, FdtNode> | undefined;

  /**
   * @param name - `""` for a root node, otherwise a valid node name (see `isValidFdtNodeName`).
   * @throws {@link FdtBadNameError} for an invalid name.
   */
  constructor(name: string) {
    if (name !== "" && !isValidFdtNodeName(name)) {
      throw new FdtBadNameError(`invalid FDT node name ${JSON.stringify(name)}`, { kind: "node", name });
    }
    this.name = name;
  }

  /** The node this one is a child of, if attached. */
  get parent(): FdtNode | undefined {
    return this.#parent;
  }

  /** Absolute path (`/`, `/memblock`, `/soc/serial@1000`); a detached non-root node yields its name. */
  get path(): string {
    const parent = this.#parent;
    if (parent === undefined) return this.name === "" ? "/" : this.name;
    const base = parent.path;
    return base.endsWith("/") ? `${base}${this.name}` : `${base}/${this.name}`;
  }

  /** The name without its unit address (`serial` for `serial@1000`). */
  get unitName(): string {
    const at = this.name.indexOf("@");
    return at === -1 ? this.name : this.name.slice(0, at);
  }

  /** The unit address (`1000` for `serial@1000`), or `undefined` when the name has none. */
  get unitAddress(): string | undefined {
    const at = this.name.indexOf("@");
    return at === -1 ? undefined : this.name.slice(at + 1);
  }

  /** The properties, in insertion (blob) order. Values are shared, not copies. */
  get properties(): ReadonlyMap<string, Uint8Array> {
    return this.#properties;
  }

  /** The child nodes, in insertion (blob) order. */
  get children(): readonly FdtNode[] {
    return this.#children ?? NO_CHILDREN;
  }

  // ---------------------------------------------------------------------------------- properties

  /** Whether the node has a property called `name`. */
  hasProperty(name: string): boolean {
    return this.#properties.has(name);
  }

  /** The raw value of property `name`, or `undefined` if absent. */
  findProperty(name: string): Uint8Array | undefined {
    return this.#properties.get(name);
  }

  /** The raw value of property `name`. @throws {@link FdtNotFoundError} if absent. */
  getBytes(name: string): Uint8Array {
    const value = this.#properties.get(name);
    if (value === undefined) {
      throw new FdtNotFoundError(`node ${this.path} has no property ${name}`, {
        path: this.path,
        property: name,
      });
    }
    return value;
  }

  /** A one-cell (4-byte, big-endian) property. @throws {@link FdtBadValueError} if not 4 bytes. */
  getU32(name: string): number {
    const value = this.#sized(name, 4, "u32 (4 bytes)");
    return new DataView(value.buffer, value.byteOffset, 4).getUint32(0, false);
  }

  /** A property of big-endian u32 cells. @throws {@link FdtBadValueError} if the length is not a multiple of 4. */
  getU32Array(name: string): number[] {
    const value = this.getBytes(name);
    if (value.length % 4 !== 0) throw this.#badLength(name, value, "u32 cells (multiple of 4 bytes)");
    const view = new DataView(value.buffer, value.byteOffset, value.length);
    const out: number[] = [];
    for (let i = 0; i < value.length; i += 4) out.push(view.getUint32(i, false));
    return out;
  }

  /** A two-cell u64 (8 bytes, big-endian — the devicetree convention); same as {@link FdtNode.getU64be}. */
  getU64(name: string): bigint {
    return this.getU64be(name);
  }

  /** An 8-byte big-endian u64. @throws {@link FdtBadValueError} if not 8 bytes. */
  getU64be(name: string): bigint {
    const value = this.#sized(name, 8, "u64 (8 bytes)");
    return new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0, false);
  }

  /**
   * An 8-byte little-endian u64 — KHO's native-endian `preserved-memory-map` / `fdt` on x86.
   * @throws {@link FdtBadValueError} if not 8 bytes.
   */
  getU64le(name: string): bigint {
    const value = this.#sized(name, 8, "u64 (8 bytes)");
    return new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0, true);
  }

  /**
   * A single NUL-terminated UTF-8 string.
   * @throws {@link FdtBadValueError} if the value is not exactly one NUL-terminated valid UTF-8 string.
   */
  getString(name: string): string {
    const value = this.getBytes(name);
    const nul = value.indexOf(0);
    if (value.length === 0 || nul !== value.length - 1) {
      throw this.#badLength(name, value, "one NUL-terminated string");
    }
    return decodeUtf8(value.subarray(0, nul), this, name);
  }

  /**
   * A string list (consecutive NUL-terminated UTF-8 strings, e.g. `compatible`); an empty
   * property is an empty list. @throws {@link FdtBadValueError} if not NUL-terminated or not UTF-8.
   */
  getStringList(name: string): string[] {
    const value = this.getBytes(name);
    if (value.length === 0) return [];
    if (value[value.length - 1] !== 0) throw this.#badLength(name, value, "NUL-terminated string list");
    const out: string[] = [];
    let start = 0;
    while (start < value.length) {
      const nul = value.indexOf(0, start);
      out.push(decodeUtf8(value.subarray(start, nul), this, name));
      start = nul + 1;
    }
    return out;
  }

  /** Sets property `name` to a copy of `value` (replacing any previous value in place). */
  setBytes(name: string, value: Uint8Array): this {
    checkPropertyName(name, this);
    // `new Uint8Array(view)` copies; `slice()` would not for a Node Buffer (its slice is a view).
    this.#properties.set(name, new Uint8Array(value));
    return this;
  }

  /** Sets an empty (zero-length, boolean-style) property. */
  setEmpty(name: string): this {
    return this.#set(name, new Uint8Array(0));
  }

  /** Sets a NUL-terminated UTF-8 string. @throws {@link FdtBadValueError} if `value` contains NUL. */
  setString(name: string, value: string): this {
    return this.#set(name, encodeStringList([value], this, name));
  }

  /** Sets a string list (`compatible = "a", "b"`). An empty list is an empty property. */
  setStringList(name: string, values: readonly string[]): this {
    return this.#set(name, encodeStringList(values, this, name));
  }

  /** Sets a one-cell big-endian u32. @throws {@link FdtBadValueError} if out of range. */
  setU32(name: string, value: number): this {
    return this.setU32Array(name, [value]);
  }

  /** Sets big-endian u32 cells (`<1 2 3>`). @throws {@link FdtBadValueError} if any is out of range. */
  setU32Array(name: string, values: readonly number[]): this {
    const out = new Uint8Array(values.length * 4);
    const view = new DataView(out.buffer);
    values.forEach((v, i) => {
      view.setUint32(i * 4, checkU32(v, this, name), false);
    });
    return this.#set(name, out);
  }

  /** Sets a two-cell big-endian u64 (the devicetree convention); same as {@link FdtNode.setU64be}. */
  setU64(name: string, value: bigint | number): this {
    return this.setU64be(name, value);
  }

  /** Sets an 8-byte big-endian u64. @throws {@link FdtBadValueError} if not in `[0, 2^64)`. */
  setU64be(name: string, value: bigint | number): this {
    return this.#setU64(name, value, false);
  }

  /**
   * Sets an 8-byte little-endian u64 — KHO's native-endian physical addresses on x86.
   * @throws {@link FdtBadValueError} if not in `[0, 2^64)`.
   */
  setU64le(name: string, value: bigint | number): this {
    return this.#setU64(name, value, true);
  }

  /** Removes property `name`; returns whether it existed. */
  deleteProperty(name: string): boolean {
    return this.#properties.delete(name);
  }

  // ---------------------------------------------------------------------------------- children

  /**
   * Appends a child: a new node called `child`, or an existing detached node.
   * @returns the attached child.
   * @throws {@link FdtBadNameError} for an invalid name, {@link FdtDuplicateNameError} if a sibling
   * has the same name, {@link FdtBadStateError} if the node is already attached or is this node's ancestor.
   */
  addChild(child: string | FdtNode): FdtNode {
    const node = typeof child === "string" ? new FdtNode(child) : child;
    if (node.name === "") {
      throw new FdtBadNameError(`a child node of ${this.path} cannot have an empty name`, {
        kind: "node",
        name: "",
        path: this.path,
      });
    }
    if (node.#parent !== undefined) {
      throw new FdtBadStateError(`node ${node.path} is already attached`, {
        operation: "addChild",
        path: node.path,
      });
    }
    // A freshly created node cannot be an ancestor; an existing one might be (a cycle).
    for (let a: FdtNode | undefined = node === child ? this : undefined; a !== undefined; a = a.#parent) {
      if (a === node) {
        throw new FdtBadStateError(`node ${node.name} cannot become its own descendant`, {
          operation: "addChild",
          path: this.path,
        });
      }
    }
    if (this.#childIndex?.has(node.name)) {
      throw new FdtDuplicateNameError(`node ${this.path} already has a child ${node.name}`, {
        kind: "node",
        path: this.path,
        name: node.name,
      });
    }
    node.#parent = this;
    this.#children ??= [];
    this.#childIndex ??= new Map();
    this.#children.push(node);
    this.#childIndex.set(node.name, node);
    return node;
  }

  /** Whether a child is named exactly `name` (unit address included). */
  hasChild(name: string): boolean {
    return this.#childIndex?.has(name) === true;
  }

  /**
   * Looks a child up by name. An exact match (`serial@1000`) wins; a name without `@` also matches
   * the first child whose unit name equals it (`serial` finds `serial@1000`), as libfdt's
   * `fdt_subnode_offset` does.
   */
  child(name: string): FdtNode | undefined {
    const exact = this.#childIndex?.get(name);
    if (exact !== undefined || name.includes("@")) return exact;
    return this.#children?.find((c) => c.name.startsWith(name) && c.name.charCodeAt(name.length) === 0x40);
  }

  /** Like {@link FdtNode.child} but throws {@link FdtNotFoundError} when there is no such child. */
  getChild(name: string): FdtNode {
    const found = this.child(name);
    if (found === undefined) {
      throw new FdtNotFoundError(`node ${this.path} has no child ${name}`, { path: this.path, name });
    }
    return found;
  }

  /**
   * Resolves a `/`-separated path of child names (each looked up as {@link FdtNode.child} does).
   * A leading `/` starts from the root of this node's tree; `""` and `"/"` name the start node.
   */
  findNode(path: string): FdtNode | undefined {
    let node: FdtNode | undefined = this;
    if (path.startsWith("/")) {
      while (node.#parent !== undefined) node = node.#parent;
    }
    for (const part of path.split("/")) {
      if (part === "") continue;
      node = node.child(part);
      if (node === undefined) return undefined;
    }
    return node;
  }

  /** Detaches the child named exactly `name`; returns it, or `undefined` if there was none. */
  removeChild(name: string): FdtNode | undefined {
    const node = this.#childIndex?.get(name);
    if (node === undefined) return undefined;
    this.#childIndex?.delete(name);
    this.#children?.splice(this.#children.indexOf(node), 1);
    node.#parent = undefined;
    return node;
  }

  // ---------------------------------------------------------------------------------- internals

  #set(name: string, value: Uint8Array): this {
    checkPropertyName(name, this);
    this.#properties.set(name, value);
    return this;
  }

  #setU64(name: string, value: bigint | number, littleEndian: boolean): this {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, toU64(value, this, name), littleEndian);
    return this.#set(name, out);
  }

  #sized(name: string, length: number, expected: string): Uint8Array {
    const value = this.getBytes(name);
    if (value.length !== length) throw this.#badLength(name, value, expected);
    return value;
  }

  #badLength(name: string, value: Uint8Array, expected: string): FdtBadValueError {
    return new FdtBadValueError(
      `property ${name} of ${this.path} has ${value.length} bytes, expected ${expected}`,
      { path: this.path, property: name, length: value.length, expected },
    );
  }
}
