/**
 * Interrupt accounting of one device. Every raised interrupt ends up in exactly one bucket, so
 * `raised = delivered + coalesced + pending + lost` holds at all times:
 *
 * - `delivered`: a handler ran for it;
 * - `coalesced`: it was raised while the same vector of the same device was already pending
 *   (masked in the PBA, or latched at the controller), so the pending message stands for both —
 *   as a single pending bit does on real hardware; the handler is expected to look at all work;
 * - `pending`: latched now (PBA pending bit, or latched at the controller for an unwired vector);
 * - `lost`: dropped. Stays 0 unless a test injects a fault (or software programs an address
 *   outside the interrupt window).
 */
export class InterruptCounters {
  /** Interrupts the device raised. */
  raised = 0;
  /** Interrupts a handler received. */
  delivered = 0;
  /** Interrupts merged into one already pending. */
  coalesced = 0;
  /** Interrupts latched now (PBA or controller). */
  pending = 0;
  /** Interrupts dropped (only through an injected fault). */
  lost = 0;

  /** A plain copy, for reports and JSON. */
  snapshot(): InterruptCountsSnapshot {
    return {
      raised: this.raised,
      delivered: this.delivered,
      coalesced: this.coalesced,
      pending: this.pending,
      lost: this.lost,
    };
  }

  /** Clears every counter. */
  reset(): void {
    this.raised = 0;
    this.delivered = 0;
    this.coalesced = 0;
    this.pending = 0;
    this.lost = 0;
  }
}

/** The figures of {@link InterruptCounters} as plain data. */
export interface InterruptCountsSnapshot {
  /** See {@link InterruptCounters.raised}. */
  readonly raised: number;
  /** See {@link InterruptCounters.delivered}. */
  readonly delivered: number;
  /** See {@link InterruptCounters.coalesced}. */
  readonly coalesced: number;
  /** See {@link InterruptCounters.pending}. */
  readonly pending: number;
  /** See {@link InterruptCounters.lost}. */
  readonly lost: number;
}

/** Something that sends interrupt messages: a PCI function, usually. */
export interface InterruptSource {
  /** The source's name (a PCI function's BDF). */
  readonly name: string;
  /** Its interrupt accounting. */
  readonly interruptCounters: InterruptCounters;
}
