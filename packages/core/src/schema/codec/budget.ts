/**
 * Limits on what one decode may follow, so hostile pointer graphs cannot cause unbounded work.
 *
 * @example
 * ```ts
 * codec.decode(bytes, memory, { maxDepth: 8, maxPointees: 10_000 });
 * ```
 */
export interface DecodeBudget {
  /** Maximum pointer nesting depth (default 32). */
  readonly maxDepth?: number;
  /** Maximum number of pointers followed (default 1 048 576). */
  readonly maxPointees?: number;
  /** Maximum total pointee bytes read (default 256 MiB). */
  readonly maxBytes?: number;
}

/** Budget used when the caller gives none. */
export const DEFAULT_DECODE_BUDGET: Required<DecodeBudget> = Object.freeze({
  maxDepth: 32,
  maxPointees: 1 << 20,
  maxBytes: 256 * 1024 * 1024,
});
