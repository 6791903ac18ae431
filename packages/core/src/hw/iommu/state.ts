/**
 * The documented JSON shape of an IOMMU's exported state: what an outside tool needs, together
 * with a memory image, to walk the tables exactly as the hardware does (start at `rootTable`,
 * scalable mode when `translationTableMode` is `"scalable"`).
 *
 * @module
 */

/** Counters of one VT-d unit since the machine powered on. */
export interface VtdCounters {
  /** Requests translated or faulted (every `translate` call). */
  readonly translations: number;
  /** Requests that passed untranslated because translation was disabled (TE = 0). */
  readonly untranslated: number;
  /** Requests that faulted. */
  readonly faults: number;
  /** IOTLB hits. */
  readonly iotlbHits: number;
  /** IOTLB misses (each one a page walk). */
  readonly iotlbMisses: number;
  /** Context-cache misses. */
  readonly contextMisses: number;
  /** PASID-cache misses. */
  readonly pasidMisses: number;
  /** Qwords read from memory by table walks. */
  readonly walkReads: number;
  /** IOTLB entries currently cached. */
  readonly iotlbEntries: number;
}

/** `exportState()` of a {@link VtdIommu}: registers as `0x…` hex strings, counters as numbers. */
export interface VtdIommuState {
  /** Always `"intel-vt-d"`. */
  readonly model: "intel-vt-d";
  /**
   * Register values by lower-case name: `ver`, `cap`, `ecap`, `gsts`, `rtaddr` (as last written,
   * TTM in bits 11:10), `fsts`, `fectl`, `iqa`, `iqh`, `iqt`, `ics`, `iqercd`.
   */
  readonly registers: Readonly<Record<string, string>>;
  /** The root table the hardware walks: the RTA latched by the last SRTP (hex). */
  readonly rootTable: string;
  /** The TTM latched by the last SRTP. */
  readonly translationTableMode: "legacy" | "scalable" | "reserved" | "abort-dma";
  /** GSTS.TES. */
  readonly translationEnabled: boolean;
  /** The fault recording registers, each as its low and high qword (hex). */
  readonly faultRecords: readonly { readonly index: number; readonly low: string; readonly high: string }[];
  /** Faults per requester id (key: the requester id as 4-digit hex, `bus << 8 | devfn`). */
  readonly faultsByRequester: Readonly<Record<string, number>>;
  /** Counters. */
  readonly counters: VtdCounters;
}
