import type { InterruptController } from "../irq/controller.js";
import type { InterruptSource } from "../irq/counters.js";
import {
  PCI_MSIX_ENTRY_CTRL_MASKBIT,
  PCI_MSIX_ENTRY_DATA,
  PCI_MSIX_ENTRY_LOWER_ADDR,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_ENTRY_UPPER_ADDR,
  PCI_MSIX_ENTRY_VECTOR_CTRL,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
} from "./config-regs.js";

/** Where a function's MSI-X table and PBA live: BAR index (BIR) and offset in that BAR. */
export interface MsixLayout {
  /** Number of vectors (table entries), 1–2048. */
  readonly vectors: number;
  /** BAR holding the table. */
  readonly tableBar: number;
  /** Offset of the table in its BAR (8-byte aligned). */
  readonly tableOffset: number;
  /** BAR holding the pending-bit array. */
  readonly pbaBar: number;
  /** Offset of the PBA in its BAR (8-byte aligned). */
  readonly pbaOffset: number;
}

/** One MSI-X table entry and its pending bit. */
export interface MsixEntryState {
  /** Message address (64-bit). */
  readonly address: number;
  /** Message data. */
  readonly data: number;
  /** Vector control mask bit. */
  readonly masked: boolean;
  /** PBA pending bit. */
  readonly pending: boolean;
}

/** What the MSI-X logic needs from its function. */
export interface MsixHost extends InterruptSource {
  /** Message Control as currently in config space. */
  messageControl(): number;
  /** Whether bus mastering is on (an MSI-X message is a memory write). */
  busMaster(): boolean;
  /** The controller messages go to. */
  readonly controller: InterruptController | undefined;
}

/**
 * MSI-X of one function: the table (16-byte entries: address low/high, data, vector control) in a
 * BAR's bytes, the pending-bit array, and the latching rule — a vector that is masked (entry mask,
 * function mask, MSI-X disabled, or bus mastering off) sets its pending bit instead of sending, and
 * sends when it becomes unmasked. A second raise while pending is coalesced into the pending bit.
 */
export class MsixState {
  /** Pending bits, one byte per vector (the PBA packs them; see {@link MsixState.readPba}). */
  private readonly pending: Uint8Array;
  private readonly view: DataView;

  /**
   * @param layout - table and PBA placement.
   * @param table - the bytes of the BAR holding the table (the table is read from there).
   * @param host - the function.
   */
  constructor(
    readonly layout: MsixLayout,
    private readonly table: Uint8Array,
    private readonly host: MsixHost,
  ) {
    this.pending = new Uint8Array(layout.vectors);
    this.view = new DataView(table.buffer, table.byteOffset, table.byteLength);
    this.reset();
  }

  /** Power-on state: every entry zero and masked, nothing pending. Returns the pending bits dropped. */
  reset(): number {
    let dropped = 0;
    for (let v = 0; v < this.layout.vectors; v++) {
      const base = this.layout.tableOffset + v * PCI_MSIX_ENTRY_SIZE;
      this.table.fill(0, base, base + PCI_MSIX_ENTRY_SIZE);
      this.view.setUint32(base + PCI_MSIX_ENTRY_VECTOR_CTRL, PCI_MSIX_ENTRY_CTRL_MASKBIT, true);
      dropped += this.pending[v]!;
    }
    this.pending.fill(0);
    return dropped;
  }

  /** Whether `vector` would latch rather than send now. */
  masked(vector: number): boolean {
    const control = this.host.messageControl();
    if ((control & PCI_MSIX_FLAGS_ENABLE) === 0 || (control & PCI_MSIX_FLAGS_MASKALL) !== 0) return true;
    if (!this.host.busMaster()) return true;
    const ctrl = this.view.getUint32(this.entry(vector) + PCI_MSIX_ENTRY_VECTOR_CTRL, true);
    return (ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0;
  }

  /** Whether `vector`'s pending bit is set. */
  isPending(vector: number): boolean {
    return this.pending[vector] === 1;
  }

  /** The device raises `vector` (already range-checked by the caller). */
  raise(vector: number): void {
    const counters = this.host.interruptCounters;
    counters.raised++;
    if (this.pending[vector] === 1) {
      counters.coalesced++;
      return;
    }
    if (this.masked(vector)) {
      this.pending[vector] = 1;
      counters.pending++;
      return;
    }
    this.send(vector);
  }

  /** Sends every pending vector that is no longer masked (after a table, control or command write). */
  flush(): void {
    for (let v = 0; v < this.layout.vectors; v++) {
      if (this.pending[v] === 1 && !this.masked(v)) {
        this.pending[v] = 0;
        this.host.interruptCounters.pending--;
        this.send(v);
      }
    }
  }

  /** Reads `size` bytes of the PBA at `offset` (relative to the PBA): bit `v` of qword `v / 64`. */
  readPba(offset: number, size: number): number {
    let value = 0;
    for (let i = size - 1; i >= 0; i--) {
      let byte = 0;
      for (let b = 0; b < 8; b++) {
        const v = (offset + i) * 8 + b;
        if (v < this.layout.vectors && this.pending[v] === 1) byte |= 1 << b;
      }
      value = value * 256 + byte;
    }
    return value;
  }

  /** Every table entry as software programmed it, with its pending bit (for exports). */
  entries(): MsixEntryState[] {
    const out: MsixEntryState[] = [];
    for (let v = 0; v < this.layout.vectors; v++) {
      const base = this.entry(v);
      const high = this.view.getUint32(base + PCI_MSIX_ENTRY_UPPER_ADDR, true);
      const low = this.view.getUint32(base + PCI_MSIX_ENTRY_LOWER_ADDR, true);
      out.push({
        address: high * 2 ** 32 + low,
        data: this.view.getUint32(base + PCI_MSIX_ENTRY_DATA, true),
        masked:
          (this.view.getUint32(base + PCI_MSIX_ENTRY_VECTOR_CTRL, true) & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0,
        pending: this.pending[v] === 1,
      });
    }
    return out;
  }

  /** PBA size in bytes (whole qwords). */
  get pbaBytes(): number {
    return Math.ceil(this.layout.vectors / 64) * 8;
  }

  private entry(vector: number): number {
    return this.layout.tableOffset + vector * PCI_MSIX_ENTRY_SIZE;
  }

  private send(vector: number): void {
    const base = this.entry(vector);
    const high = this.view.getUint32(base + PCI_MSIX_ENTRY_UPPER_ADDR, true);
    const low = this.view.getUint32(base + PCI_MSIX_ENTRY_LOWER_ADDR, true);
    const data = this.view.getUint32(base + PCI_MSIX_ENTRY_DATA, true);
    const controller = this.host.controller;
    if (controller === undefined || high !== 0) {
      // Not attached to a machine, or an address above 4 GiB: nothing in the interrupt window.
      this.host.interruptCounters.lost++;
      return;
    }
    controller.send(this.host, { address: low, data });
  }
}
