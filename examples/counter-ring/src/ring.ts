/** What an increment does at 2^32 − 1: wrap around to 0, or stay at the maximum. */
export type RingMode = "wrap" | "saturate";

/**
 * A counter ring device: `capacity` u32 counters in one page of device memory, used as a ring
 * from `tail` (oldest slot) to `head` (the slot increments go to). The page is the device's; the
 * geometry and flags are the driver's software state.
 */
export class CounterRing {
  /**
   * @param id - ring id (unique per driver, from the shared table).
   * @param page - physical address of the counter page.
   * @param capacity - number of slots.
   * @param head - slot increments go to.
   * @param tail - oldest live slot.
   * @param mode - overflow behaviour.
   * @param flags - per-slot overflow flags.
   */
  constructor(
    readonly id: number,
    readonly page: number,
    public capacity: number,
    public head: number,
    public tail: number,
    public mode: RingMode,
    public flags: Uint8Array,
  ) {}

  /** Number of live slots (tail to head). */
  get length(): number {
    return ((this.head - this.tail + this.capacity) % this.capacity) + 1;
  }
}
