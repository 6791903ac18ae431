/**
 * Typed failures of the Flattened Device Tree codec.
 *
 * Every error the decoder, the builder and the tree getters throw is one of these classes; each
 * kind has a stable `code` and a `context` naming the byte offset, node path or property concerned.
 *
 * @module
 */
import { LiveUpdateError } from "../../common/errors.js";

/** Common base of every FDT codec failure; match on {@link LiveUpdateError.code} or on a subclass. */
export abstract class FdtError extends LiveUpdateError {}

/** The blob does not start with the FDT magic `0xd00dfeed`. Context: `magic`. */
export class FdtBadMagicError extends FdtError {
  /** Always `"FDT_BAD_MAGIC"`. */
  override readonly code = "FDT_BAD_MAGIC";
}

/**
 * The header's `version` / `last_comp_version` pair is not one this codec reads (it accepts, as
 * libfdt does, `version >= 16`, `last_comp_version <= 17` and `last_comp_version <= version`).
 * Context: `version`, `lastCompVersion`.
 */
export class FdtBadVersionError extends FdtError {
  /** Always `"FDT_BAD_VERSION"`. */
  override readonly code = "FDT_BAD_VERSION";
}

/**
 * Something runs past the end of the buffer, of `totalsize` or of its block: a buffer shorter than
 * the header, a `totalsize` beyond the buffer, a block or a property value past its limit.
 * Context: `offset`, `limit`, and the `field` / `block` / `path` / `property` concerned.
 */
export class FdtTruncatedError extends FdtError {
  /** Always `"FDT_TRUNCATED"`. */
  override readonly code = "FDT_TRUNCATED";
}

/**
 * The header describes an impossible layout: a block starting inside the header, blocks that
 * overlap, a misaligned memory-reservation (8 bytes) or structure (4 bytes) block.
 * Context: `block` (and `other` for overlaps), `offset`.
 */
export class FdtBadLayoutError extends FdtError {
  /** Always `"FDT_BAD_LAYOUT"`. */
  override readonly code = "FDT_BAD_LAYOUT";
}

/**
 * The token stream of the structure block is malformed: unknown token, unbalanced
 * `FDT_BEGIN_NODE` / `FDT_END_NODE`, property outside a node or after a subnode, more than one root,
 * missing `FDT_END`, data after `FDT_END`. Context: `offset`, `token`, `path`.
 */
export class FdtBadStructureError extends FdtError {
  /** Always `"FDT_BAD_STRUCTURE"`. */
  override readonly code = "FDT_BAD_STRUCTURE";
}

/**
 * A name cannot be read: a node name not NUL-terminated inside the structure block, a property
 * name offset outside the strings block, or a property name not NUL-terminated inside it.
 * Context: `offset` (or `nameOffset`), `path`.
 */
export class FdtBadStringError extends FdtError {
  /** Always `"FDT_BAD_STRING"`. */
  override readonly code = "FDT_BAD_STRING";
}

/**
 * A node or property name is empty or uses characters the devicetree specification does not allow
 * (nodes: `[A-Za-z0-9,._+-]` with at most one `@unit-address`; properties: `[A-Za-z0-9,._+*#?-]`),
 * or the root node is not named `""`. Context: `name`, `kind`, `offset` / `path`.
 */
export class FdtBadNameError extends FdtError {
  /** Always `"FDT_BAD_NAME"`. */
  override readonly code = "FDT_BAD_NAME";
}

/** Two sibling nodes, or two properties of one node, share a name. Context: `path`, `name`, `kind`. */
export class FdtDuplicateNameError extends FdtError {
  /** Always `"FDT_DUPLICATE_NAME"`. */
  override readonly code = "FDT_DUPLICATE_NAME";
}

/** Nodes nest deeper than the decoder's `maxDepth`. Context: `offset`, `path`, `maxDepth`. */
export class FdtTooDeepError extends FdtError {
  /** Always `"FDT_TOO_DEEP"`. */
  override readonly code = "FDT_TOO_DEEP";
}

/** A typed getter asked for a property or child node that does not exist. Context: `path`, `name`. */
export class FdtNotFoundError extends FdtError {
  /** Always `"FDT_NOT_FOUND"`. */
  override readonly code = "FDT_NOT_FOUND";
}

/**
 * A property value does not have the shape asked for (a `getU64` on a 4-byte value, a string
 * without its NUL, invalid UTF-8), or a value given to a setter is out of range (a u32 above
 * `0xffffffff`, a negative u64, a string containing NUL, a zero-sized memory reservation).
 * Context: `path`, `property`, `length` / `value`, `expected`.
 */
export class FdtBadValueError extends FdtError {
  /** Always `"FDT_BAD_VALUE"`. */
  override readonly code = "FDT_BAD_VALUE";
}

/**
 * The `FdtBuilder` or a tree mutator was used out of order (libfdt's `FDT_ERR_BADSTATE`):
 * a reservation after the first node, a property outside a node or after a subnode, an
 * `endNode` without `beginNode`, `finish` with open nodes, re-attaching an attached node.
 * Context: `operation`, `state` / `path`.
 */
export class FdtBadStateError extends FdtError {
  /** Always `"FDT_BAD_STATE"`. */
  override readonly code = "FDT_BAD_STATE";
}
