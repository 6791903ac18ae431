/**
 * A sequential FDT writer — the equivalent of libfdt's `fdt_create` / `fdt_begin_node` /
 * `fdt_property*` / `fdt_end_node` / `fdt_finish` — and {@link encodeFdt}, which writes an
 * {@link FdtTree} through it.
 *
 * Output is byte-for-byte what libfdt's sequential-write API produces for the same calls: header,
 * memory reservation block at offset 48, structure block, then the strings block, in which each
 * property name appears once (newest first, a name that is a suffix of an already stored one
 * reusing its tail, as `fdt_find_add_string_` does). Output is deterministic.
 *
 * @module
 */
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER_FIELDS,
  FDT_LAST_COMP_VERSION,
  FDT_MAGIC,
  FDT_PROP,
  FDT_PROP_HEADER_SIZE,
  FDT_RESERVE_ENTRY_SIZE,
  FDT_SW_RSVMAP_OFFSET,
  FDT_TAGSIZE,
  FDT_VERSION,
  fdtAlign,
} from "./abi.js";
import { FdtBadNameError, FdtBadStateError, FdtBadValueError, FdtDuplicateNameError } from "./errors.js";
import { createFdtTree, FdtNode, type FdtTree, walkFdt } from "./tree.js";
import {
  checkNoNul,
  checkPropertyName,
  checkU32,
  encodeStringList,
  isValidFdtNodeName,
  toU64,
} from "./values.js";

/** Options of {@link FdtBuilder}. */
export interface FdtBuilderOptions {
  /** The header's `boot_cpuid_phys` (u32); 0 by default. */
  readonly bootCpuidPhys?: number;
  /** Initial buffer size in bytes (the buffer doubles as needed); 1 KiB by default. */
  readonly initialCapacity?: number;
}

/** A node being written; its path is only computed for error reports. */
class OpenNode {
  // Allocated on first use: most nodes of a handover have one or two properties and no children.
  properties: Set<string> | undefined;
  children: Set<string> | undefined;
  constructor(
    readonly name: string,
    readonly parent: OpenNode | undefined,
  ) {}

  get path(): string {
    if (this.parent === undefined) return "/";
    const base = this.parent.path;
    return base === "/" ? `/${this.name}` : `${base}/${this.name}`;
  }
}

const utf8Encoder = new TextEncoder();

/**
 * Writes an FDT blob sequentially into a single growing buffer.
 *
 * Call order: any {@link FdtBuilder.addReservation}s, then one root `beginNode("")`, its properties
 * (before its subnodes), nested `beginNode`/`endNode` pairs, the root's `endNode`, and
 * {@link FdtBuilder.finish}. Misuse throws {@link FdtBadStateError}; invalid names
 * {@link FdtBadNameError}; repeated names {@link FdtDuplicateNameError}; out-of-range values
 * {@link FdtBadValueError}. Every `prop*` helper and `beginNode`/`endNode` return `this`.
 *
 * Cells are big-endian (`propU32`, `propU64`); KHO's native-endian u64 properties use
 * {@link FdtBuilder.propU64le}.
 *
 * @example
 * ```ts
 * const blob = new FdtBuilder()
 *   .beginNode("")
 *   .propString("compatible", "kho-v1")
 *   .propU64le("preserved-memory-map", 0x1234_5000n)
 *   .beginNode("memblock")
 *   .propU64le("fdt", 0x2000_0000n)
 *   .endNode()
 *   .endNode()
 *   .finish();
 * ```
 */
export class FdtBuilder {
  #buf: Uint8Array;
  #view: DataView;
  #pos = FDT_SW_RSVMAP_OFFSET;
  #phase: "rsvmap" | "struct" | "finished" = "rsvmap";
  #rootDone = false;
  #offDtStruct = 0;
  readonly #bootCpuidPhys: number;
  readonly #stack: OpenNode[] = [];
  /** Offset of each stored name (and of each suffix of one), relative to the end of the strings block. */
  readonly #stringOffsets = new Map<string, number>();
  /** Stored names in insertion order; the block holds them newest first. */
  readonly #strings: string[] = [];
  #stringsSize = 0;
  /** Positions of `nameoff` fields holding end-relative offsets, fixed up by `finish`. */
  readonly #nameoffFixups: number[] = [];

  /** @param options - boot CPU id and initial buffer size. */
  constructor(options: FdtBuilderOptions = {}) {
    this.#bootCpuidPhys = checkU32(options.bootCpuidPhys ?? 0, "/", "boot_cpuid_phys");
    const capacity = Math.max(256, Math.floor(options.initialCapacity ?? 1024));
    this.#buf = new Uint8Array(capacity);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Number of nodes currently open (0 before the root and after its `endNode`). */
  get depth(): number {
    return this.#stack.length;
  }

  /**
   * Adds a memory reservation entry (`/memreserve/`). Only allowed before the first node.
   * @throws {@link FdtBadValueError} if a value is not a u64 or `size` is 0 (a zero size would end the block).
   */
  addReservation(address: bigint | number, size: bigint | number): this {
    if (this.#phase !== "rsvmap") throw this.#badState("addReservation", "reservations must precede nodes");
    const addr = toU64(address, "/", "memreserve.address");
    const len = toU64(size, "/", "memreserve.size");
    if (len === 0n) {
      throw new FdtBadValueError("memory reservation size must not be 0 (a zero entry ends the block)", {
        path: "/",
        property: "memreserve",
        value: addr,
        expected: "non-zero size",
      });
    }
    this.#ensure(FDT_RESERVE_ENTRY_SIZE);
    this.#view.setBigUint64(this.#pos, addr, false);
    this.#view.setBigUint64(this.#pos + 8, len, false);
    this.#pos += FDT_RESERVE_ENTRY_SIZE;
    return this;
  }

  /**
   * Opens a node. The first call opens the root and must use the name `""`; later calls open a
   * child of the innermost open node.
   */
  beginNode(name: string): this {
    if (this.#phase === "finished") throw this.#badState("beginNode", "already finished");
    if (this.#phase === "rsvmap") this.#finishReservations();
    const parent = this.#stack.at(-1);
    if (parent === undefined) {
      if (this.#rootDone) throw this.#badState("beginNode", "the root node is already closed");
      if (name !== "") {
        throw new FdtBadNameError(`the root node must be named "" (got ${JSON.stringify(name)})`, {
          kind: "node",
          name,
          path: "/",
        });
      }
    } else {
      if (!isValidFdtNodeName(name)) {
        throw new FdtBadNameError(`invalid FDT node name ${JSON.stringify(name)} under ${parent.path}`, {
          kind: "node",
          name,
          path: parent.path,
        });
      }
      if (parent.children?.has(name)) {
        throw new FdtDuplicateNameError(`node ${parent.path} already has a child ${name}`, {
          kind: "node",
          name,
          path: parent.path,
        });
      }
      parent.children ??= new Set();
      parent.children.add(name);
    }
    const padded = fdtAlign(name.length + 1, FDT_TAGSIZE);
    this.#ensure(FDT_TAGSIZE + padded);
    this.#view.setUint32(this.#pos, FDT_BEGIN_NODE, false);
    const buf = this.#buf;
    let p = this.#pos + FDT_TAGSIZE;
    for (let i = 0; i < name.length; i++) buf[p++] = name.charCodeAt(i);
    buf.fill(0, p, this.#pos + FDT_TAGSIZE + padded);
    this.#pos += FDT_TAGSIZE + padded;
    this.#stack.push(new OpenNode(name, parent));
    return this;
  }

  /** Closes the innermost open node. */
  endNode(): this {
    if (this.#phase !== "struct" || this.#stack.length === 0) throw this.#badState("endNode", "no open node");
    this.#stack.pop();
    if (this.#stack.length === 0) this.#rootDone = true;
    this.#writeToken(FDT_END_NODE);
    return this;
  }

  /** Adds a property with a copy of `value` as its raw bytes. */
  propBytes(name: string, value: Uint8Array): this {
    const data = this.#beginProperty(name, value.length);
    this.#buf.set(value, data);
    return this;
  }

  /** Adds an empty (zero-length) property, e.g. a boolean flag. */
  propEmpty(name: string): this {
    this.#beginProperty(name, 0);
    return this;
  }

  /** Adds a NUL-terminated UTF-8 string. @throws {@link FdtBadValueError} if `value` contains NUL. */
  propString(name: string, value: string): this {
    const node = this.#currentNode("propString");
    checkNoNul(value, node, name);
    // encodeInto needs room for the worst case (3 bytes per UTF-16 unit); the length is patched after.
    const data = this.#beginProperty(name, value.length * 3 + 1);
    const { written } = utf8Encoder.encodeInto(value, this.#buf.subarray(data, data + value.length * 3));
    this.#view.setUint32(data - 8, written + 1, false);
    this.#buf[data + written] = 0;
    this.#pos = data + fdtAlign(written + 1, FDT_TAGSIZE);
    this.#buf.fill(0, data + written, this.#pos);
    return this;
  }

  /** Adds a string list (`"a", "b"` — consecutive NUL-terminated strings); `[]` gives an empty property. */
  propStringList(name: string, values: readonly string[]): this {
    return this.propBytes(name, encodeStringList(values, this.#currentNode("propStringList"), name));
  }

  /** Adds a one-cell big-endian u32. */
  propU32(name: string, value: number): this {
    const checked = checkU32(value, this.#currentNode("propU32"), name);
    const data = this.#beginProperty(name, 4);
    this.#view.setUint32(data, checked, false);
    return this;
  }

  /** Adds big-endian u32 cells (`<1 2 3>`). */
  propU32Array(name: string, values: readonly number[]): this {
    const node = this.#currentNode("propU32Array");
    for (const v of values) checkU32(v, node, name);
    const data = this.#beginProperty(name, values.length * 4);
    for (let i = 0; i < values.length; i++) this.#view.setUint32(data + i * 4, values[i]!, false);
    return this;
  }

  /** Adds a two-cell big-endian u64 (the devicetree convention); same as {@link FdtBuilder.propU64be}. */
  propU64(name: string, value: bigint | number): this {
    return this.propU64be(name, value);
  }

  /** Adds an 8-byte big-endian u64. */
  propU64be(name: string, value: bigint | number): this {
    return this.#propU64(name, value, false, "propU64be");
  }

  /**
   * Adds an 8-byte little-endian u64. KHO's `preserved-memory-map` and `fdt` properties are
   * native-endian physical addresses, i.e. little-endian on x86 and arm64.
   */
  propU64le(name: string, value: bigint | number): this {
    return this.#propU64(name, value, true, "propU64le");
  }

  /**
   * Closes the blob (`FDT_END`, strings block, header) and returns exactly `totalsize` bytes.
   * The builder cannot be used afterwards.
   */
  finish(): Uint8Array {
    if (this.#phase === "finished") throw this.#badState("finish", "already finished");
    if (!this.#rootDone || this.#stack.length !== 0) {
      throw this.#badState("finish", this.#stack.length !== 0 ? "nodes are still open" : "no root node");
    }
    this.#writeToken(FDT_END);
    const offDtStrings = this.#pos;
    const stringsSize = this.#stringsSize;
    this.#ensure(stringsSize);
    const buf = this.#buf;
    let p = offDtStrings;
    for (let i = this.#strings.length - 1; i >= 0; i--) {
      const s = this.#strings[i]!;
      for (let j = 0; j < s.length; j++) buf[p++] = s.charCodeAt(j);
      buf[p++] = 0;
    }
    const view = this.#view;
    for (const at of this.#nameoffFixups) view.setUint32(at, view.getInt32(at, false) + stringsSize, false);
    const total = offDtStrings + stringsSize;
    const h = FDT_HEADER_FIELDS;
    view.setUint32(h.magic, FDT_MAGIC, false);
    view.setUint32(h.totalsize, total, false);
    view.setUint32(h.offDtStruct, this.#offDtStruct, false);
    view.setUint32(h.offDtStrings, offDtStrings, false);
    view.setUint32(h.offMemRsvmap, FDT_SW_RSVMAP_OFFSET, false);
    view.setUint32(h.version, FDT_VERSION, false);
    view.setUint32(h.lastCompVersion, FDT_LAST_COMP_VERSION, false);
    view.setUint32(h.bootCpuidPhys, this.#bootCpuidPhys, false);
    view.setUint32(h.sizeDtStrings, stringsSize, false);
    view.setUint32(h.sizeDtStruct, offDtStrings - this.#offDtStruct, false);
    this.#phase = "finished";
    const out = buf.slice(0, total);
    this.#buf = new Uint8Array(0);
    this.#view = new DataView(this.#buf.buffer);
    return out;
  }

  // ---------------------------------------------------------------------------------- internals

  #finishReservations(): void {
    this.#ensure(FDT_RESERVE_ENTRY_SIZE);
    this.#buf.fill(0, this.#pos, this.#pos + FDT_RESERVE_ENTRY_SIZE);
    this.#pos += FDT_RESERVE_ENTRY_SIZE;
    this.#offDtStruct = this.#pos;
    this.#phase = "struct";
  }

  #propU64(name: string, value: bigint | number, littleEndian: boolean, operation: string): this {
    const v = toU64(value, this.#currentNode(operation), name);
    const data = this.#beginProperty(name, 8);
    this.#view.setBigUint64(data, v, littleEndian);
    return this;
  }

  #currentNode(operation: string): OpenNode {
    const node = this.#stack.at(-1);
    if (node === undefined) throw this.#badState(operation, "properties must be inside a node");
    return node;
  }

  /** Validates, writes the property header and padding, and returns the offset of the value bytes. */
  #beginProperty(name: string, length: number): number {
    const node = this.#stack.at(-1);
    if (node === undefined) throw this.#badState("property", "properties must be inside a node");
    if (node.children !== undefined) {
      throw this.#badState("property", `property ${name} of ${node.path} would follow a subnode`);
    }
    checkPropertyName(name, node);
    if (node.properties?.has(name)) {
      throw new FdtDuplicateNameError(`node ${node.path} already has a property ${name}`, {
        kind: "property",
        name,
        path: node.path,
      });
    }
    node.properties ??= new Set();
    node.properties.add(name);
    const nameoff = this.#stringOffset(name);
    const padded = fdtAlign(length, FDT_TAGSIZE);
    this.#ensure(FDT_PROP_HEADER_SIZE + padded);
    const at = this.#pos;
    const view = this.#view;
    view.setUint32(at, FDT_PROP, false);
    view.setUint32(at + 4, length, false);
    view.setInt32(at + 8, nameoff, false);
    this.#nameoffFixups.push(at + 8);
    const data = at + FDT_PROP_HEADER_SIZE;
    this.#buf.fill(0, data + length, data + padded);
    this.#pos = data + padded;
    return data;
  }

  /** libfdt's `fdt_find_add_string_`: end-relative offset of `name`, adding it if no stored name ends with it. */
  #stringOffset(name: string): number {
    let offset = this.#stringOffsets.get(name);
    if (offset === undefined) {
      this.#stringsSize += name.length + 1;
      offset = -this.#stringsSize;
      this.#strings.push(name);
      // The new name is stored below all others, so it is now the first match for each of its suffixes.
      for (let k = 0; k < name.length; k++) this.#stringOffsets.set(name.slice(k), offset + k);
    }
    return offset;
  }

  #writeToken(token: number): void {
    this.#ensure(FDT_TAGSIZE);
    this.#view.setUint32(this.#pos, token, false);
    this.#pos += FDT_TAGSIZE;
  }

  #ensure(extra: number): void {
    const needed = this.#pos + extra;
    if (needed <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(needed, this.#buf.length * 2));
    grown.set(this.#buf.subarray(0, this.#pos));
    this.#buf = grown;
    this.#view = new DataView(grown.buffer);
  }

  #badState(operation: string, reason: string): FdtBadStateError {
    return new FdtBadStateError(`FdtBuilder.${operation}: ${reason}`, {
      operation,
      state: this.#phase,
      reason,
      path: this.#stack.at(-1)?.path,
    });
  }
}

/**
 * Encodes a tree (or a bare root node) as a version-17 blob. Properties are written before
 * subnodes, in insertion order; the output is deterministic and identical to libfdt's.
 * @throws {@link FdtBadNameError} if the root is not named `""`, {@link FdtBadValueError} for a zero-size reservation.
 */
export function encodeFdt(tree: FdtTree | FdtNode): Uint8Array {
  const t = tree instanceof FdtNode ? createFdtTree({ root: tree }) : tree;
  const builder = new FdtBuilder({ bootCpuidPhys: t.bootCpuidPhys, initialCapacity: 4096 });
  for (const r of t.reservations) builder.addReservation(r.address, r.size);
  walkFdt(
    t.root,
    (node) => {
      builder.beginNode(node.name);
      for (const [name, value] of node.properties) builder.propBytes(name, value);
    },
    () => builder.endNode(),
  );
  return builder.finish();
}
