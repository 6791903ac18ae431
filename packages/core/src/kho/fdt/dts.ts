/**
 * Devicetree source (`.dts`) pretty printer, for CLI / debug output and tests.
 *
 * @module
 */
import { createFdtTree, FdtNode, type FdtTree, walkFdt } from "./tree.js";

/**
 * Prints a tree (or a bare root node) as devicetree source that `dtc -I dts` compiles back to the
 * same tree: `/dts-v1/;`, one `/memreserve/` line per reservation, then the nodes, tab-indented,
 * properties before subnodes.
 *
 * Property values carry no type in a blob, so each one is shown the way dtc guesses it: an empty
 * value as a bare `name;`; NUL-terminated printable text (with no more NULs than other bytes) as
 * strings (`"a", "b"`); a multiple of 4 bytes as big-endian cells (`<0x00000001 0x00000002>` —
 * so a little-endian KHO u64 shows up byte-swapped); anything else as bytes (`[01 02 03]`).
 * The header's `boot_cpuid_phys` has no source syntax and is not printed.
 */
export function fdtToDts(tree: FdtTree | FdtNode): string {
  const t = tree instanceof FdtNode ? createFdtTree({ root: tree }) : tree;
  const lines: string[] = ["/dts-v1/;", ""];
  for (const r of t.reservations) lines.push(`/memreserve/ ${hex64(r.address)} ${hex64(r.size)};`);
  if (t.reservations.length > 0) lines.push("");
  walkFdt(
    t.root,
    (node, depth, index, parent) => {
      if (parent !== undefined && (index > 0 || parent.properties.size > 0)) lines.push("");
      const indent = "\t".repeat(depth);
      lines.push(`${indent}${parent === undefined ? "/" : node.name} {`);
      for (const [name, value] of node.properties) lines.push(`${indent}\t${name}${formatValue(value)};`);
    },
    (_node, depth) => lines.push(`${"\t".repeat(depth)}};`),
  );
  return `${lines.join("\n")}\n`;
}

function hex64(value: bigint): string {
  return `0x${value.toString(16)}`;
}

/** dtc's `isstring()`: printable ASCII, NUL, or one of `\a\b\t\n\v\f\r`. */
function isStringByte(b: number): boolean {
  return (b >= 0x20 && b < 0x7f) || b === 0 || (b >= 0x07 && b <= 0x0d);
}

/** dtc's `guess_value_type()`: strings, then 32-bit cells, then bytes. */
function formatValue(value: Uint8Array): string {
  const len = value.length;
  if (len === 0) return "";
  let nul = 0;
  let strings = value[len - 1] === 0;
  for (let i = 0; i < len && strings; i++) {
    const b = value[i]!;
    if (b === 0) nul++;
    else if (!isStringByte(b)) strings = false;
  }
  if (strings && nul <= len - nul) return ` = ${formatStrings(value)}`;
  const view = new DataView(value.buffer, value.byteOffset, len);
  if (len % 4 === 0) {
    const cells: string[] = [];
    for (let i = 0; i < len; i += 4)
      cells.push(`0x${view.getUint32(i, false).toString(16).padStart(8, "0")}`);
    return ` = <${cells.join(" ")}>`;
  }
  const bytes: string[] = [];
  for (const b of value) bytes.push(b.toString(16).padStart(2, "0"));
  return ` = [${bytes.join(" ")}]`;
}

const ESCAPES: Readonly<Record<number, string>> = {
  7: "\\a",
  8: "\\b",
  9: "\\t",
  10: "\\n",
  11: "\\v",
  12: "\\f",
  13: "\\r",
  34: '\\"',
  92: "\\\\",
};

function formatStrings(value: Uint8Array): string {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < value.length; i++) {
    const b = value[i]!;
    if (b === 0) {
      parts.push(`"${current}"`);
      current = "";
    } else {
      current += ESCAPES[b] ?? String.fromCharCode(b);
    }
  }
  return parts.join(", ");
}
