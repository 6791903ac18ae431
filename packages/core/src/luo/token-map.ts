/**
 * A map keyed by session token (`u64`, a `bigint` in the API), in insertion order.
 *
 * @internal
 * @module
 */

/** Largest token stored under a `number` key: small integers hash without touching a `bigint`. */
const NUMBER_KEY_MAX = 0x3fffffffn;

/**
 * Tokens as map keys. V8 hashes a `bigint` key from its digits on every lookup, which made the
 * token index the largest single cost of validating a handover of a thousand objects; tokens up to
 * 2^30 - 1 (all that callers usually pick) are kept under a small-integer key instead, larger ones
 * under the `bigint` itself. The two key spaces cannot collide: a small token is never stored as a
 * `bigint`.
 *
 * @internal
 */
export class TokenMap<V> {
  readonly #map = new Map<number | bigint, V>();

  /** Number of tokens. */
  get size(): number {
    return this.#map.size;
  }

  /** The value stored for `token`, if any. */
  get(token: bigint): V | undefined {
    return this.#map.get(keyOf(token));
  }

  /** Whether `token` is present. */
  has(token: bigint): boolean {
    return this.#map.has(keyOf(token));
  }

  /** Stores `value` for `token` (a new token goes last in iteration order). */
  set(token: bigint, value: V): this {
    this.#map.set(keyOf(token), value);
    return this;
  }

  /** Removes `token`; whether it was present. */
  delete(token: bigint): boolean {
    return this.#map.delete(keyOf(token));
  }

  /** Values in insertion order. */
  values(): IterableIterator<V> {
    return this.#map.values();
  }

  /** Tokens in insertion order. */
  *keys(): IterableIterator<bigint> {
    for (const key of this.#map.keys()) yield typeof key === "bigint" ? key : BigInt(key);
  }

  /** Calls `fn` for every value in insertion order (no iterator object per entry). */
  forEach(fn: (value: V) => void): void {
    this.#map.forEach((value) => {
      fn(value);
    });
  }
}

function keyOf(token: bigint): number | bigint {
  return token <= NUMBER_KEY_MAX ? Number(token) : token;
}
