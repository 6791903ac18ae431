/**
 * Shared helpers of the FDT codec tests: a raw blob assembler (to craft malformed blobs), random
 * tree arbitraries, a structural tree comparison, and runners for the reference tools (dtc,
 * fdtdump, python libfdt).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import {
  createFdtTree,
  FDT_MAGIC,
  FdtNode,
  type FdtReservation,
  type FdtTree,
} from "../../src/kho/fdt/index.js";

// ------------------------------------------------------------------------------ raw assembly

/** A piece of a structure block: a u32 token/word, a NUL-terminated padded name, or raw padded bytes. */
export type StructPart = number | string | Uint8Array;

/** Assembles structure-block bytes: numbers as big-endian u32, strings NUL-terminated and padded, bytes padded. */
export function struct(...parts: StructPart[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const part of parts) {
    let bytes: Uint8Array;
    if (typeof part === "number") {
      bytes = new Uint8Array(4);
      new DataView(bytes.buffer).setUint32(0, part >>> 0, false);
    } else if (typeof part === "string") {
      bytes = new Uint8Array(Math.ceil((part.length + 1) / 4) * 4);
      for (let i = 0; i < part.length; i++) bytes[i] = part.charCodeAt(i);
    } else {
      bytes = new Uint8Array(Math.ceil(part.length / 4) * 4);
      bytes.set(part);
    }
    chunks.push(bytes);
  }
  return concat(chunks);
}

/** Concatenates byte arrays. */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Header fields that {@link assemble} lets a test override. */
export interface HeaderOverrides {
  magic?: number;
  totalsize?: number;
  offDtStruct?: number;
  offDtStrings?: number;
  offMemRsvmap?: number;
  version?: number;
  lastCompVersion?: number;
  bootCpuidPhys?: number;
  sizeDtStrings?: number;
  sizeDtStruct?: number;
}

const FIELD_OFFSETS: Record<keyof HeaderOverrides, number> = {
  magic: 0,
  totalsize: 4,
  offDtStruct: 8,
  offDtStrings: 12,
  offMemRsvmap: 16,
  version: 20,
  lastCompVersion: 24,
  bootCpuidPhys: 28,
  sizeDtStrings: 32,
  sizeDtStruct: 36,
};

/**
 * Lays out a blob like dtc does (40-byte header, reservation block at 40, structure, strings) from
 * raw parts, then applies header overrides. `rsvmap` entries get a zero terminator unless
 * `rawRsvmap` is given instead.
 */
export function assemble(options: {
  struct: Uint8Array;
  strings?: string | Uint8Array;
  rsvmap?: readonly (readonly [bigint, bigint])[];
  rawRsvmap?: Uint8Array;
  header?: HeaderOverrides;
  trailing?: number;
}): Uint8Array {
  const strings =
    typeof options.strings === "string"
      ? Uint8Array.from(options.strings, (c) => c.charCodeAt(0))
      : (options.strings ?? new Uint8Array(0));
  let rsv = options.rawRsvmap;
  if (rsv === undefined) {
    const entries = options.rsvmap ?? [];
    rsv = new Uint8Array((entries.length + 1) * 16);
    const v = new DataView(rsv.buffer);
    entries.forEach(([a, s], i) => {
      v.setBigUint64(i * 16, a, false);
      v.setBigUint64(i * 16 + 8, s, false);
    });
  }
  const offMemRsvmap = 40;
  const offDtStruct = offMemRsvmap + rsv.length;
  const offDtStrings = offDtStruct + options.struct.length;
  const totalsize = offDtStrings + strings.length;
  const blob = new Uint8Array(totalsize + (options.trailing ?? 0));
  blob.set(rsv, offMemRsvmap);
  blob.set(options.struct, offDtStruct);
  blob.set(strings, offDtStrings);
  const fields: Required<HeaderOverrides> = {
    magic: FDT_MAGIC,
    totalsize,
    offDtStruct,
    offDtStrings,
    offMemRsvmap,
    version: 17,
    lastCompVersion: 16,
    bootCpuidPhys: 0,
    sizeDtStrings: strings.length,
    sizeDtStruct: options.struct.length,
    ...options.header,
  };
  const view = new DataView(blob.buffer);
  for (const [key, offset] of Object.entries(FIELD_OFFSETS) as [keyof HeaderOverrides, number][]) {
    view.setUint32(offset, fields[key] >>> 0, false);
  }
  return blob;
}

/** Returns a copy of `blob` with the big-endian u32 at `offset` replaced. */
export function withU32(blob: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = blob.slice();
  new DataView(copy.buffer).setUint32(offset, value >>> 0, false);
  return copy;
}

/** Reads the big-endian u32 at `offset`. */
export function u32At(blob: Uint8Array, offset: number): number {
  return new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(offset, false);
}

/** Hex string of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Bytes of a hex string. */
export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, "hex"));
}

// ------------------------------------------------------------------------------ tree specs

/** A plain description of a node, convenient for generating and comparing trees. */
export interface NodeSpec {
  name: string;
  props: [string, Uint8Array][];
  children: NodeSpec[];
}

/** A plain description of a whole tree. */
export interface TreeSpec {
  root: NodeSpec;
  reservations: FdtReservation[];
  bootCpuidPhys: number;
}

/** Builds an {@link FdtTree} from a spec. */
export function buildTree(spec: TreeSpec): FdtTree {
  const build = (s: NodeSpec): FdtNode => {
    const node = new FdtNode(s.name);
    for (const [name, value] of s.props) node.setBytes(name, value);
    for (const c of s.children) node.addChild(build(c));
    return node;
  };
  return createFdtTree({
    root: build(spec.root),
    reservations: spec.reservations,
    bootCpuidPhys: spec.bootCpuidPhys,
  });
}

/** Converts a tree to a plain structure (hex values) for deep equality. */
export function plain(tree: FdtTree): unknown {
  const node = (n: FdtNode): unknown => ({
    name: n.name,
    props: [...n.properties].map(([k, v]) => [k, toHex(v)]),
    children: n.children.map(node),
  });
  return {
    root: node(tree.root),
    reservations: tree.reservations.map((r) => [r.address.toString(16), r.size.toString(16)]),
    bootCpuidPhys: tree.bootCpuidPhys,
  };
}

/** Character sets for generated names. */
export interface NameStyle {
  node: fc.Arbitrary<string>;
  property: fc.Arbitrary<string>;
}

/** Any name the specification allows, unit addresses included. */
export const anyNames: NameStyle = {
  node: fc
    .tuple(
      fc.stringMatching(/^[a-zA-Z0-9,._+-]{1,10}$/),
      fc.option(fc.stringMatching(/^[0-9a-fA-F,.]{1,8}$/)),
    )
    .map(([base, unit]) => (unit === null ? base : `${base}@${unit}`)),
  property: fc.stringMatching(/^[a-zA-Z0-9,._+*#?-]{1,14}$/),
};

/** Names dtc's semantic checks have no opinion about (no unit addresses, no well-known names). */
export const dtcSafeNames: NameStyle = {
  node: fc.stringMatching(/^n[a-z0-9]{0,6}$/),
  property: fc.stringMatching(/^x-[a-z0-9]{1,8}$/),
};

/** Property values: raw bytes, strings and string lists, cells. */
export const valueArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 20 }),
  fc.constant(new Uint8Array(0)),
  fc
    .array(fc.stringMatching(/^[ -~\t\n]{0,8}$/), { minLength: 1, maxLength: 3 })
    .map((list) => new TextEncoder().encode(list.map((s) => `${s}\0`).join(""))),
  fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 4 }).map((cells) => {
    const out = new Uint8Array(cells.length * 4);
    cells.forEach((c, i) => {
      new DataView(out.buffer).setUint32(i * 4, c, false);
    });
    return out;
  }),
);

/** Random trees with the given name style, up to `maxDepth` levels below the root. */
export function treeArb(names: NameStyle = anyNames, maxDepth = 3): fc.Arbitrary<TreeSpec> {
  const props = fc.uniqueArray(fc.tuple(names.property, valueArb), { selector: (p) => p[0], maxLength: 5 });
  const { node } = fc.letrec<{ node: NodeSpec }>((tie) => ({
    node: fc.record({
      name: names.node,
      props,
      children: fc.oneof(
        { maxDepth },
        fc.constant<NodeSpec[]>([]),
        fc.uniqueArray(tie("node"), { selector: (n) => n.name, maxLength: 3 }),
      ),
    }),
  }));
  return fc.record({
    root: node.map((n) => ({ ...n, name: "" })),
    reservations: fc.array(
      fc.record({
        address: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        size: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
      }),
      { maxLength: 3 },
    ),
    bootCpuidPhys: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffffffff })),
  });
}

// ------------------------------------------------------------------------------ tools

/** Result of a tool run. */
export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The python with the libfdt bindings (the default `python3` may be a pyenv without them). */
export const SYSTEM_PYTHON = "/usr/bin/python3";

/** Runs a reference tool; a missing tool fails the test with an explanation instead of skipping. */
export function runTool(command: string, args: readonly string[], input?: string): ToolResult {
  const r = spawnSync(command, args, { input, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new Error(
        `reference tool ${command} is not installed: the FDT interop tests need dtc and fdtdump ` +
          "(apt-get install device-tree-compiler) and python libfdt (apt-get install python3-libfdt)",
      );
    }
    throw r.error;
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a python script with the system python and libfdt; fails clearly if libfdt is missing. */
export function runPython(script: string, input?: string): string {
  const r = runTool(SYSTEM_PYTHON, ["-c", script], input);
  if (r.status !== 0) {
    if (r.stderr.includes("No module named 'libfdt'")) {
      throw new Error(`${SYSTEM_PYTHON} has no libfdt module: apt-get install python3-libfdt`);
    }
    throw new Error(`python failed (${r.status}): ${r.stderr}`);
  }
  return r.stdout;
}

/** A scratch directory under the OS temp dir, removed by the returned cleanup. */
export function scratchDir(): {
  dir: string;
  file: (name: string, contents: string | Uint8Array) => string;
  cleanup: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), "liveupdate-fdt-"));
  return {
    dir,
    file: (name, contents) => {
      const path = join(dir, name);
      writeFileSync(path, contents);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
