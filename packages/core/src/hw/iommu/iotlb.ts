/**
 * The translation caches of the VT-d unit, with the architectural invalidation semantics: a
 * cached entry is used until an invalidation that covers it — nothing is re-read from memory on
 * its own. Three caches, as in hardware:
 *
 * - the **context cache**: requester id → what the context entry said;
 * - the **PASID cache**: (requester id, PASID) → what the PASID entry said (tagged with its DID);
 * - the **IOTLB**: (DID, PGTT, PASID, page) → leaf translation, one map per page size, so a hit
 *   is one integer-keyed `Map.get` per page size in use (no `bigint`, no allocation).
 *
 * @module
 */
import { VTD_PGTT } from "./abi.js";
import type { ContextInfo, Leaf, PasidInfo } from "./walker.js";

/** A context entry as cached, with the DID seen through its RID_PASID (for domain-selective invalidation). */
export interface CachedContext extends ContextInfo {
  /** DID of the RID_PASID address space once resolved (undefined: not known yet). */
  domainId: number | undefined;
}

/** One cached PASID entry: an address space and its IOTLB bucket. */
export interface AddressSpace extends PasidInfo {
  /** Requester id it was resolved for. */
  readonly requesterId: number;
  /** The PASID. */
  readonly pasid: number;
  /** The IOTLB entries of this (DID, PGTT, PASID). */
  readonly tlb: IotlbBucket;
}

const SIZE_4K = 4096;
const SIZE_2M = 2 * 1024 * 1024;
const SIZE_1G = 1024 * 1024 * 1024;

/** IOTLB entries of one (DID, PGTT, PASID), one map per page size, keyed by page number. */
export class IotlbBucket {
  /** 4 KiB leaves by `iova / 4 KiB`. */
  readonly small = new Map<number, Leaf>();
  /** 2 MiB leaves by `iova / 2 MiB`. */
  readonly medium = new Map<number, Leaf>();
  /** 1 GiB leaves by `iova / 1 GiB`. */
  readonly large = new Map<number, Leaf>();

  /**
   * @param domainId - DID tag.
   * @param pgtt - translation type tag.
   * @param pasid - PASID tag.
   * @param capacity - most entries kept (oldest evicted first).
   */
  constructor(
    readonly domainId: number,
    readonly pgtt: number,
    readonly pasid: number,
    private readonly capacity: number,
  ) {}

  /** The cached leaf covering `iova`, if any (the hot path). */
  lookup(iova: number): Leaf | undefined {
    if (this.medium.size !== 0) {
      const leaf = this.medium.get(Math.floor(iova / SIZE_2M));
      if (leaf !== undefined) return leaf;
    }
    if (this.small.size !== 0) {
      const leaf = this.small.get(Math.floor(iova / SIZE_4K));
      if (leaf !== undefined) return leaf;
    }
    if (this.large.size !== 0) return this.large.get(Math.floor(iova / SIZE_1G));
    return undefined;
  }

  /** Caches `leaf` for the block containing `iova`. */
  insert(iova: number, leaf: Leaf): void {
    const map = this.mapOf(leaf.size);
    if (this.size() >= this.capacity) {
      const victim = map.size !== 0 ? map : this.small.size !== 0 ? this.small : this.medium;
      const oldest = victim.keys().next();
      if (oldest.done !== true) victim.delete(oldest.value);
    }
    map.set(Math.floor(iova / leaf.size), leaf);
  }

  /** Entries cached. */
  size(): number {
    return this.small.size + this.medium.size + this.large.size;
  }

  /** Drops every entry. */
  clear(): void {
    this.small.clear();
    this.medium.clear();
    this.large.clear();
  }

  /** Drops every entry overlapping `[start, start + length)`. */
  invalidateRange(start: number, length: number): void {
    for (const [map, size] of [
      [this.small, SIZE_4K],
      [this.medium, SIZE_2M],
      [this.large, SIZE_1G],
    ] as const) {
      if (map.size === 0) continue;
      const first = Math.floor(start / size);
      const last = Math.floor((start + length - 1) / size);
      if (last - first + 1 <= map.size) {
        for (let k = first; k <= last; k++) map.delete(k);
      } else {
        for (const k of map.keys()) if (k >= first && k <= last) map.delete(k);
      }
    }
  }

  private mapOf(size: number): Map<number, Leaf> {
    return size === SIZE_4K ? this.small : size === SIZE_2M ? this.medium : this.large;
  }
}

const PASID_SPAN = 2 ** 20;

/** Counters of the caches (monotonic). */
export interface VtdCacheCounters {
  /** IOTLB lookups that hit. */
  iotlbHits: number;
  /** IOTLB lookups that missed (a page walk followed). */
  iotlbMisses: number;
  /** Context-cache misses (root + context entry read). */
  contextMisses: number;
  /** PASID-cache misses (directory + PASID entry read). */
  pasidMisses: number;
}

/** The three caches and the invalidation operations on them. */
export class VtdCaches {
  /** Context cache, indexed by requester id. */
  readonly contexts: Array<CachedContext | undefined> = new Array(65536).fill(undefined);
  /** PASID cache, keyed by `requesterId * 2^20 + pasid`. */
  readonly spaces = new Map<number, AddressSpace>();
  /** IOTLB buckets, keyed by `(domainId * 8 + pgtt) * 2^20 + pasid`. */
  private readonly buckets = new Map<number, IotlbBucket>();
  /**
   * The address space of the last request (key: requester id and requested PASID, see
   * `VtdIommu.translate`): a device streaming DMA skips both cache lookups. Every context- and
   * PASID-cache invalidation drops it.
   */
  lastKey = -1;
  /** See {@link VtdCaches.lastKey}. */
  lastSpace: AddressSpace | undefined = undefined;
  /** Counters. */
  readonly counters: VtdCacheCounters = { iotlbHits: 0, iotlbMisses: 0, contextMisses: 0, pasidMisses: 0 };

  /** @param iotlbCapacity - most IOTLB entries per address space. */
  constructor(private readonly iotlbCapacity: number) {}

  /** Key of the PASID cache. */
  static spaceKey(requesterId: number, pasid: number): number {
    return requesterId * PASID_SPAN + pasid;
  }

  /** The IOTLB bucket of (DID, PGTT, PASID), created on first use. */
  bucket(domainId: number, pgtt: number, pasid: number): IotlbBucket {
    const key = (domainId * 8 + pgtt) * PASID_SPAN + pasid;
    let b = this.buckets.get(key);
    if (b === undefined) {
      b = new IotlbBucket(domainId, pgtt, pasid, this.iotlbCapacity);
      this.buckets.set(key, b);
    }
    return b;
  }

  /** IOTLB entries cached, over all address spaces. */
  iotlbEntries(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.size();
    return n;
  }

  // ---- context cache ---------------------------------------------------------------------------

  /** Context-cache invalidation, global. */
  invalidateContextsGlobal(): void {
    this.lastSpace = undefined;
    this.contexts.fill(undefined);
  }

  /** Context-cache invalidation, domain-selective (entries of unknown DID are dropped too). */
  invalidateContextsOfDomain(domainId: number): void {
    this.lastSpace = undefined;
    const c = this.contexts;
    for (let rid = 0; rid < c.length; rid++) {
      const e = c[rid];
      if (e !== undefined && (e.domainId === undefined || e.domainId === domainId)) c[rid] = undefined;
    }
  }

  /**
   * Context-cache invalidation, device-selective: source id `sourceId`, with function mask `fm`
   * (0: none, 1: bit 2 of the function, 2: bits 2:1, 3: bits 2:0 ignored).
   */
  invalidateContextsOfDevice(sourceId: number, functionMask: number): void {
    this.lastSpace = undefined;
    const ignore = [0, 4, 6, 7][functionMask & 3]!;
    for (let f = 0; f <= ignore; f++) {
      if ((f & ~ignore) === 0) this.contexts[(sourceId & ~ignore) | f] = undefined;
    }
  }

  // ---- PASID cache -----------------------------------------------------------------------------

  /** PASID-cache invalidation, global. */
  invalidatePasidsGlobal(): void {
    this.lastSpace = undefined;
    this.spaces.clear();
  }

  /** PASID-cache invalidation of one DID (`pasid` undefined: every PASID of it). */
  invalidatePasids(domainId: number, pasid: number | undefined): void {
    this.lastSpace = undefined;
    for (const [key, space] of this.spaces) {
      if (space.domainId === domainId && (pasid === undefined || space.pasid === pasid))
        this.spaces.delete(key);
    }
  }

  // ---- IOTLB -----------------------------------------------------------------------------------

  /** IOTLB invalidation, global: every entry of every domain. */
  invalidateIotlbGlobal(): void {
    for (const b of this.buckets.values()) b.clear();
  }

  /** IOTLB invalidation, domain-selective: every entry tagged with `domainId`, whatever its PGTT and PASID. */
  invalidateIotlbOfDomain(domainId: number): void {
    for (const b of this.buckets.values()) if (b.domainId === domainId) b.clear();
  }

  /**
   * IOTLB page-selective-within-domain invalidation (IOTLB descriptor, G = 11b): entries of
   * second-stage-only and pass-through address spaces of `domainId` overlapping the range. First-stage
   * and nested entries are the PASID-based descriptor's business.
   */
  invalidateIotlbPages(domainId: number, start: number, length: number): void {
    for (const b of this.buckets.values()) {
      if (b.domainId === domainId && (b.pgtt === VTD_PGTT.SECOND_STAGE || b.pgtt === VTD_PGTT.PASS_THROUGH)) {
        b.invalidateRange(start, length);
      }
    }
  }

  /**
   * PASID-based IOTLB invalidation: first-stage and nested entries of (`domainId`, `pasid`),
   * all of them (`length` undefined) or those overlapping the range.
   */
  invalidatePasidIotlb(domainId: number, pasid: number, start: number, length: number | undefined): void {
    for (const pgtt of [VTD_PGTT.FIRST_STAGE, VTD_PGTT.NESTED]) {
      const b = this.buckets.get((domainId * 8 + pgtt) * PASID_SPAN + pasid);
      if (b === undefined) continue;
      if (length === undefined) b.clear();
      else b.invalidateRange(start, length);
    }
  }
}
