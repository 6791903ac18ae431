/**
 * The FDT decoder. It trusts nothing in the blob: every offset, size, length and name is checked
 * before use, each failure is a typed {@link FdtError} naming the offset / node path concerned, and
 * every loop advances through a bounded buffer, so a decode always terminates.
 *
 * @module
 */
import { hex } from "../../common/errors.js";
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_FIRST_SUPPORTED_VERSION,
  FDT_HEADER_FIELDS,
  FDT_LAST_SUPPORTED_VERSION,
  FDT_MAGIC,
  FDT_NOP,
  FDT_PROP,
  FDT_PROP_HEADER_SIZE,
  FDT_RESERVE_ENTRY_SIZE,
  FDT_RSVMAP_ALIGN,
  FDT_TAGSIZE,
  type FdtHeader,
  fdtAlign,
  fdtHeaderSize,
} from "./abi.js";
import {
  FdtBadLayoutError,
  FdtBadMagicError,
  FdtBadNameError,
  FdtBadStringError,
  FdtBadStructureError,
  FdtBadVersionError,
  FdtDuplicateNameError,
  type FdtError,
  FdtTooDeepError,
  FdtTruncatedError,
} from "./errors.js";
import { FdtNode, type FdtReservation, type FdtTree } from "./tree.js";
import { isValidFdtNodeName, isValidFdtPropertyName } from "./values.js";

/** Default limit on node nesting (root = depth 1), as Linux's `FDT_MAX_DEPTH`. */
export const FDT_DEFAULT_MAX_DEPTH = 64;

/** Options of {@link decodeFdt}. */
export interface FdtDecodeOptions {
  /** Deepest node nesting accepted (the root is depth 1); {@link FDT_DEFAULT_MAX_DEPTH} by default. */
  readonly maxDepth?: number;
}

// Names are checked to be ASCII before they are turned into strings, so latin1 is exact.
const latin1 = new TextDecoder("latin1");

interface Block {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

/**
 * Reads and validates a blob's header: magic, version pair, `totalsize` within the buffer, and each
 * block (the memory reservation block up to its terminating entry included) inside `totalsize`,
 * after the header, aligned and not overlapping another. For version 16 (no `size_dt_struct`) the
 * structure block's size is found by scanning for `FDT_END`. The structure itself is not checked.
 *
 * @throws {@link FdtBadMagicError}, {@link FdtBadVersionError}, {@link FdtTruncatedError},
 * {@link FdtBadLayoutError} (and for version 16 {@link FdtBadStructureError}).
 */
export function readFdtHeader(blob: Uint8Array): FdtHeader {
  const reader = new Reader(blob);
  reader.readReservations();
  return reader.header;
}

/**
 * Decodes a blob into an {@link FdtTree}. Bytes after `totalsize` are ignored. Property values are
 * copied out of `blob`.
 *
 * Beyond the header checks of {@link readFdtHeader}, the decoder rejects: a reservation block
 * without its zero-size terminator (`FDT_TRUNCATED` / `FDT_BAD_LAYOUT`); unknown tokens, unbalanced
 * `FDT_BEGIN_NODE`/`FDT_END_NODE`, properties outside a node or after a subnode, several roots,
 * a missing `FDT_END` or bytes after it (`FDT_BAD_STRUCTURE`); node names not terminated inside the
 * structure block, name offsets outside the strings block or names not terminated inside it
 * (`FDT_BAD_STRING`); values running past the structure block (`FDT_TRUNCATED`); invalid or
 * empty names, a root not named `""` (`FDT_BAD_NAME`); repeated sibling or property names
 * (`FDT_DUPLICATE_NAME`); nesting deeper than `maxDepth` (`FDT_TOO_DEEP`).
 *
 * @throws only {@link FdtError} subclasses.
 */
export function decodeFdt(blob: Uint8Array, options: FdtDecodeOptions = {}): FdtTree {
  const reader = new Reader(blob);
  const reservations = reader.readReservations();
  const root = reader.readStructure(options.maxDepth ?? FDT_DEFAULT_MAX_DEPTH);
  return { root, reservations, bootCpuidPhys: reader.header.bootCpuidPhys };
}

class Reader {
  readonly header: FdtHeader;
  readonly #blob: Uint8Array;
  readonly #view: DataView;
  /** Blocks known so far, for overlap checks. */
  readonly #blocks: Block[] = [];
  /** Property names already read, by strings-block offset. */
  readonly #names = new Map<number, string>();

  constructor(blob: Uint8Array) {
    this.#blob = blob;
    this.#view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    this.header = this.#readHeader();
  }

  #readHeader(): FdtHeader {
    const length = this.#blob.byteLength;
    const h = FDT_HEADER_FIELDS;
    if (length < 4)
      throw truncated("buffer shorter than the FDT magic", { field: "magic", offset: 0, limit: length });
    const magic = this.#u32(h.magic);
    if (magic !== FDT_MAGIC) {
      throw new FdtBadMagicError(`bad FDT magic ${hex(magic)} (expected ${hex(FDT_MAGIC)})`, {
        magic,
        offset: 0,
      });
    }
    if (length < h.lastCompVersion + 4) {
      throw truncated("buffer shorter than the FDT version fields", {
        field: "version",
        offset: 0,
        limit: length,
      });
    }
    const version = this.#u32(h.version);
    const lastCompVersion = this.#u32(h.lastCompVersion);
    if (
      version < FDT_FIRST_SUPPORTED_VERSION ||
      lastCompVersion > FDT_LAST_SUPPORTED_VERSION ||
      version < lastCompVersion
    ) {
      throw new FdtBadVersionError(
        `unsupported FDT version ${version} (last compatible ${lastCompVersion}); ` +
          `need version >= ${FDT_FIRST_SUPPORTED_VERSION} and last compatible <= ${FDT_LAST_SUPPORTED_VERSION}`,
        { version, lastCompVersion },
      );
    }
    const hdrsize = fdtHeaderSize(version);
    if (length < hdrsize) {
      throw truncated(`buffer of ${length} bytes is shorter than the ${hdrsize}-byte header`, {
        field: "header",
        offset: 0,
        limit: length,
      });
    }
    const totalsize = this.#u32(h.totalsize);
    if (totalsize < hdrsize) {
      throw truncated(`totalsize ${totalsize} is smaller than the header`, {
        field: "totalsize",
        offset: h.totalsize,
        value: totalsize,
        limit: hdrsize,
      });
    }
    if (totalsize > length) {
      throw truncated(`totalsize ${totalsize} exceeds the ${length}-byte buffer`, {
        field: "totalsize",
        offset: h.totalsize,
        value: totalsize,
        limit: length,
      });
    }
    const offMemRsvmap = this.#u32(h.offMemRsvmap);
    const offDtStruct = this.#u32(h.offDtStruct);
    const offDtStrings = this.#u32(h.offDtStrings);
    const sizeDtStrings = this.#u32(h.sizeDtStrings);
    const bootCpuidPhys = this.#u32(h.bootCpuidPhys);
    const checkStart = (block: string, offset: number, alignment: number): void => {
      if (offset < hdrsize) {
        throw new FdtBadLayoutError(`${block} block at ${hex(offset)} starts inside the header`, {
          block,
          offset,
          limit: hdrsize,
        });
      }
      if (offset > totalsize) {
        throw truncated(`${block} block at ${hex(offset)} starts beyond totalsize ${hex(totalsize)}`, {
          block,
          offset,
          limit: totalsize,
        });
      }
      if (offset % alignment !== 0) {
        throw new FdtBadLayoutError(`${block} block at ${hex(offset)} is not ${alignment}-byte aligned`, {
          block,
          offset,
          alignment,
        });
      }
    };
    const checkEnd = (block: string, offset: number, size: number): void => {
      if (offset + size > totalsize) {
        throw truncated(
          `${block} block [${hex(offset)}, +${hex(size)}) runs past totalsize ${hex(totalsize)}`,
          {
            block,
            offset,
            size,
            limit: totalsize,
          },
        );
      }
    };
    checkStart("memory reservation", offMemRsvmap, FDT_RSVMAP_ALIGN);
    checkStart("structure", offDtStruct, FDT_TAGSIZE);
    checkStart("strings", offDtStrings, 1);
    checkEnd("strings", offDtStrings, sizeDtStrings);
    this.#addBlock("strings", offDtStrings, offDtStrings + sizeDtStrings);
    let sizeDtStruct: number;
    if (version >= 17) {
      sizeDtStruct = this.#u32(h.sizeDtStruct);
      checkEnd("structure", offDtStruct, sizeDtStruct);
    } else {
      sizeDtStruct = this.#scanStructSize(offDtStruct, this.#nextBlockStart(offDtStruct, totalsize));
    }
    this.#addBlock("structure", offDtStruct, offDtStruct + sizeDtStruct);
    return {
      magic,
      totalsize,
      offDtStruct,
      offDtStrings,
      offMemRsvmap,
      version,
      lastCompVersion,
      bootCpuidPhys,
      sizeDtStrings,
      sizeDtStruct,
    };
  }

  /** Reads the memory reservation block up to its zero-size terminator (libfdt / dtc semantics). */
  readReservations(): FdtReservation[] {
    const start = this.header.offMemRsvmap;
    const totalsize = this.header.totalsize;
    const limit = this.#nextBlockStart(start, totalsize);
    const out: FdtReservation[] = [];
    for (let at = start; ; at += FDT_RESERVE_ENTRY_SIZE) {
      if (at + FDT_RESERVE_ENTRY_SIZE > limit) {
        const context = { block: "memory reservation", offset: at, limit, entries: out.length };
        if (limit === totalsize)
          throw truncated("memory reservation block has no terminating entry", context);
        throw new FdtBadLayoutError(
          `memory reservation block runs into the block at ${hex(limit)} before its terminating entry`,
          { ...context, other: this.#blocks.find((b) => b.start === limit)?.name },
        );
      }
      const address = this.#view.getBigUint64(at, false);
      const size = this.#view.getBigUint64(at + 8, false);
      if (size === 0n) {
        this.#addBlock("memory reservation", start, at + FDT_RESERVE_ENTRY_SIZE);
        return out;
      }
      out.push({ address, size });
    }
  }

  /** Walks the structure block and builds the node tree. */
  readStructure(maxDepth: number): FdtNode {
    const blob = this.#blob;
    const view = this.#view;
    const start = this.header.offDtStruct;
    const end = start + this.header.sizeDtStruct;
    const stack: FdtNode[] = [];
    let root: FdtNode | undefined;
    let at = start;
    for (;;) {
      if (at + FDT_TAGSIZE > end) {
        throw structure("structure block ends without FDT_END", at, stack, { limit: end });
      }
      const token = view.getUint32(at, false);
      switch (token) {
        case FDT_BEGIN_NODE: {
          const nameStart = at + FDT_TAGSIZE;
          const nul = findNul(blob, nameStart, end);
          if (nul === -1) {
            throw new FdtBadStringError(
              `node name at ${hex(nameStart)} is not terminated in the structure block`,
              {
                offset: nameStart,
                limit: end,
                path: pathOf(stack),
              },
            );
          }
          const next = fdtAlign(nameStart + nul + 1, FDT_TAGSIZE);
          if (next > end) {
            throw truncated(`padding of node name at ${hex(nameStart)} runs past the structure block`, {
              block: "structure",
              offset: nameStart,
              limit: end,
              path: pathOf(stack),
            });
          }
          const parent = stack.at(-1);
          let node: FdtNode;
          if (parent === undefined) {
            if (root !== undefined) throw structure("a second root node", at, stack, { token });
            if (nul !== 0) {
              throw new FdtBadNameError("the root node must have an empty name", {
                kind: "node",
                name: asciiOrHex(blob.subarray(nameStart, nameStart + nul)),
                offset: nameStart,
                path: "/",
              });
            }
            root = node = new FdtNode("");
          } else {
            const name = this.#name(nameStart, nameStart + nul, "node", stack);
            if (parent.hasChild(name)) {
              throw new FdtDuplicateNameError(`node ${parent.path} has two children named ${name}`, {
                kind: "node",
                name,
                offset: at,
                path: parent.path,
              });
            }
            node = parent.addChild(name);
          }
          if (stack.length + 1 > maxDepth) {
            throw new FdtTooDeepError(`node ${node.path} nests deeper than ${maxDepth} levels`, {
              offset: at,
              path: node.path,
              maxDepth,
            });
          }
          stack.push(node);
          at = next;
          break;
        }
        case FDT_END_NODE:
          if (stack.length === 0) throw structure("FDT_END_NODE without an open node", at, stack, { token });
          stack.pop();
          at += FDT_TAGSIZE;
          break;
        case FDT_PROP: {
          const node = stack.at(-1);
          if (node === undefined) throw structure("property outside any node", at, stack, { token });
          if (at + FDT_PROP_HEADER_SIZE > end) {
            throw truncated(`property header at ${hex(at)} runs past the structure block`, {
              block: "structure",
              offset: at,
              limit: end,
              path: node.path,
            });
          }
          const length = view.getUint32(at + 4, false);
          const nameoff = view.getUint32(at + 8, false);
          const data = at + FDT_PROP_HEADER_SIZE;
          const name = this.#propertyName(nameoff, at, node);
          if (data + length > end) {
            throw truncated(`value of property ${name} (${length} bytes) runs past the structure block`, {
              block: "structure",
              offset: at,
              length,
              limit: end,
              path: node.path,
              property: name,
            });
          }
          if (node.children.length > 0) {
            throw structure(`property ${name} follows a subnode`, at, stack, { token, property: name });
          }
          if (node.hasProperty(name)) {
            throw new FdtDuplicateNameError(`node ${node.path} has two properties named ${name}`, {
              kind: "property",
              name,
              offset: at,
              path: node.path,
            });
          }
          node.setBytes(name, blob.subarray(data, data + length));
          // Padding may end exactly at `end` or beyond it only if the block is misdeclared; the
          // next iteration reports that as a missing FDT_END.
          at = fdtAlign(data + length, FDT_TAGSIZE);
          break;
        }
        case FDT_NOP:
          at += FDT_TAGSIZE;
          break;
        case FDT_END:
          if (stack.length !== 0) throw structure("FDT_END inside an open node", at, stack, { token });
          if (root === undefined) throw structure("FDT_END before any node", at, stack, { token });
          if (at + FDT_TAGSIZE !== end) {
            throw structure("data after FDT_END in the structure block", at, stack, { token, limit: end });
          }
          return root;
        default:
          throw structure(`unknown token ${hex(token)}`, at, stack, { token });
      }
    }
  }

  // ---------------------------------------------------------------------------------- helpers

  #u32(offset: number): number {
    return this.#view.getUint32(offset, false);
  }

  /** Start of the first known block (or header end, or `totalsize`) after `offset`. */
  #nextBlockStart(offset: number, totalsize: number): number {
    let limit = totalsize;
    for (const b of this.#blocks) if (b.end > b.start && b.start > offset && b.start < limit) limit = b.start;
    return limit;
  }

  /** Records a block, failing on overlap with the header or a block recorded before. */
  #addBlock(name: string, start: number, end: number): void {
    if (end > start) {
      for (const b of this.#blocks) {
        if (b.end > b.start && start < b.end && b.start < end) {
          throw new FdtBadLayoutError(
            `${name} block [${hex(start)}, ${hex(end)}) overlaps the ${b.name} block [${hex(b.start)}, ${hex(b.end)})`,
            { block: name, offset: start, end, other: b.name, otherOffset: b.start, otherEnd: b.end },
          );
        }
      }
    }
    this.#blocks.push({ name, start, end });
  }

  /** Version 16: the structure block runs to its FDT_END token, found by walking the tokens. */
  #scanStructSize(start: number, limit: number): number {
    const view = this.#view;
    let at = start;
    for (;;) {
      if (at + FDT_TAGSIZE > limit) {
        throw new FdtBadStructureError("version-16 structure block has no FDT_END", {
          offset: at,
          limit,
          path: "/",
        });
      }
      const token = view.getUint32(at, false);
      if (token === FDT_END) return at + FDT_TAGSIZE - start;
      if (token === FDT_BEGIN_NODE) {
        const nul = findNul(this.#blob, at + FDT_TAGSIZE, limit);
        at = nul === -1 ? limit : fdtAlign(at + FDT_TAGSIZE + nul + 1, FDT_TAGSIZE);
      } else if (token === FDT_PROP) {
        if (at + FDT_PROP_HEADER_SIZE > limit) at = limit;
        else at = fdtAlign(at + FDT_PROP_HEADER_SIZE + view.getUint32(at + 4, false), FDT_TAGSIZE);
      } else {
        // END_NODE, NOP, and unknown tokens (reported by the structure walk) are one tag long.
        at += FDT_TAGSIZE;
      }
    }
  }

  #name(start: number, end: number, kind: "node" | "property", stack: readonly FdtNode[]): string {
    const blob = this.#blob;
    let ascii = true;
    let name = "";
    for (let i = start; i < end && ascii; i++) {
      const b = blob[i]!;
      ascii = b >= 0x20 && b < 0x7f;
      if (end - start <= 64) name += String.fromCharCode(b);
    }
    if (!ascii) name = asciiOrHex(blob.subarray(start, end));
    else if (end - start > 64) name = latin1.decode(blob.subarray(start, end));
    if (!ascii || !(kind === "node" ? isValidFdtNodeName(name) : isValidFdtPropertyName(name))) {
      throw new FdtBadNameError(`invalid ${kind} name ${JSON.stringify(name)} at ${hex(start)}`, {
        kind,
        name,
        offset: start,
        path: pathOf(stack),
      });
    }
    return name;
  }

  #propertyName(nameoff: number, at: number, node: FdtNode): string {
    const cached = this.#names.get(nameoff);
    if (cached !== undefined) return cached;
    const { offDtStrings, sizeDtStrings } = this.header;
    if (nameoff >= sizeDtStrings) {
      throw new FdtBadStringError(
        `property name offset ${hex(nameoff)} at ${hex(at)} is outside the ${sizeDtStrings}-byte strings block`,
        { offset: at, nameOffset: nameoff, limit: sizeDtStrings, path: node.path },
      );
    }
    const start = offDtStrings + nameoff;
    const nul = findNul(this.#blob, start, offDtStrings + sizeDtStrings);
    if (nul === -1) {
      throw new FdtBadStringError(`property name at strings offset ${hex(nameoff)} is not NUL-terminated`, {
        offset: at,
        nameOffset: nameoff,
        limit: sizeDtStrings,
        path: node.path,
      });
    }
    const name = this.#name(start, start + nul, "property", [node]);
    this.#names.set(nameoff, name);
    return name;
  }
}

/** Index of the first NUL in `blob[from, to)`, relative to `from`, or -1. */
function findNul(blob: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) if (blob[i] === 0) return i - from;
  return -1;
}

function truncated(message: string, context: Record<string, unknown>): FdtTruncatedError {
  return new FdtTruncatedError(message, context);
}

function structure(
  reason: string,
  offset: number,
  stack: readonly FdtNode[],
  extra: Record<string, unknown>,
): FdtError {
  return new FdtBadStructureError(`bad FDT structure at ${hex(offset)}: ${reason}`, {
    reason,
    offset,
    path: pathOf(stack),
    ...extra,
  });
}

function pathOf(stack: readonly FdtNode[]): string {
  return stack.at(-1)?.path ?? "/";
}

/** A printable rendering of name bytes for error context (`\xNN` for non-printable bytes). */
function asciiOrHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes.subarray(0, 64)) {
    out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return bytes.length > 64 ? `${out}…` : out;
}
