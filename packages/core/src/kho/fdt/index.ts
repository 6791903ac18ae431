/**
 * Flattened Device Tree (DTB format version 17) codec: the container of the KHO handover (root
 * `compatible = "kho-v1"`, u64 properties, one child node per subtree) and of drivers' own
 * subtree blobs.
 *
 * - {@link FdtBuilder} / {@link encodeFdt} write blobs byte-for-byte as libfdt's sequential-write API.
 * - {@link decodeFdt} / {@link readFdtHeader} read untrusted blobs; every failure is an {@link FdtError}.
 * - {@link FdtNode} is the tree model with typed getters and setters; {@link fdtToDts} prints source.
 *
 * Byte order: devicetree cells are big-endian (`getU32`, `getU64`, `propU64`), but KHO's
 * `preserved-memory-map` and `fdt` properties are native-endian u64 — little-endian on x86 — so use
 * the explicit `u64le` helpers (`propU64le`, `setU64le`, `getU64le`) for them.
 *
 * @module
 */
export {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER_SIZE,
  FDT_LAST_COMP_VERSION,
  FDT_MAGIC,
  FDT_NOP,
  FDT_PROP,
  FDT_VERSION,
  type FdtHeader,
} from "./abi.js";
export { encodeFdt, FdtBuilder, type FdtBuilderOptions } from "./builder.js";
export { fdtToDts } from "./dts.js";
export {
  FdtBadLayoutError,
  FdtBadMagicError,
  FdtBadNameError,
  FdtBadStateError,
  FdtBadStringError,
  FdtBadStructureError,
  FdtBadValueError,
  FdtBadVersionError,
  FdtDuplicateNameError,
  FdtError,
  FdtNotFoundError,
  FdtTooDeepError,
  FdtTruncatedError,
} from "./errors.js";
export { decodeFdt, FDT_DEFAULT_MAX_DEPTH, type FdtDecodeOptions, readFdtHeader } from "./parser.js";
export {
  createFdtTree,
  FdtNode,
  type FdtReservation,
  type FdtTree,
  type FdtTreeOptions,
} from "./tree.js";
export { isValidFdtNodeName, isValidFdtPropertyName } from "./values.js";
