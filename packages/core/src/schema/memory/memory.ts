/**
 * The physical memory a codec writes pointees to and follows pointers into. The kernel supplies an
 * adapter over emulated physical memory and KHO preservation; {@link InMemorySchemaMemory} is a
 * self-contained implementation for tests and for users without a kernel.
 *
 * Physical addresses are `number`s (safe integers, the SDK convention); anything above
 * `Number.MAX_SAFE_INTEGER` is refused by the codec before reaching this interface.
 *
 * @example
 * ```ts
 * const memory = new InMemorySchemaMemory();
 * const bytes = codec.encode(inode, memory);   // pointees allocated in `memory`
 * const back = codec.decode(bytes, memory);    // pointers checked with isPreserved()
 * ```
 */
export interface SchemaMemory {
  /**
   * Reads `length` bytes at `phys`. Only called for ranges `isPreserved` accepted. Must return
   * exactly `length` bytes; the codec does not keep the array beyond the call.
   */
  read(phys: number, length: number): Uint8Array;
  /** Writes `bytes` at `phys` (only called inside ranges returned by `allocate`). */
  write(phys: number, bytes: Uint8Array): void;
  /**
   * Allocates `size` bytes aligned to `align` (a power of two) in memory that will be preserved
   * across the update, returning the physical address (mirrors `kho_preserve_*` on fresh pages).
   */
  allocate(size: number, align: number): number;
  /** Whether every byte of `[phys, phys + length)` is preserved (and therefore may be read). */
  isPreserved(phys: number, length: number): boolean;
}
