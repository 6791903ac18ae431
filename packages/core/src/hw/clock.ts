/**
 * The machine's monotonic clock in nanoseconds. It keeps running across kexec (it belongs to the
 * machine, not to a kernel), so timelines spanning an update are measured on one time base.
 *
 * By default it follows the host's monotonic clock; a `manual` clock only moves when told to,
 * which makes timelines deterministic in tests.
 *
 * @example
 * ```ts
 * const clock = new MachineClock({ manual: true });
 * clock.advance(1_000);
 * clock.now(); // 1000
 * ```
 */
export class MachineClock {
  private readonly manual: boolean;
  private readonly origin: number;
  private manualNow = 0;

  /** @param options - `manual: true` for a clock that only {@link MachineClock.advance} moves. */
  constructor(options: { manual?: boolean } = {}) {
    this.manual = options.manual ?? false;
    // `performance.now()` (monotonic, sub-microsecond) allocates nothing, unlike `hrtime.bigint()`:
    // the orchestrator reads the clock twice per hook.
    this.origin = performance.now();
  }

  /** True for a manual clock (only {@link MachineClock.advance} moves it). */
  get isManual(): boolean {
    return this.manual;
  }

  /** Nanoseconds since the machine was created. */
  now(): number {
    if (this.manual) return this.manualNow;
    return Math.round((performance.now() - this.origin) * 1e6);
  }

  /** Moves a manual clock forward by `ns` nanoseconds; a real clock ignores it. */
  advance(ns: number): void {
    if (this.manual) this.manualNow += ns;
  }
}
