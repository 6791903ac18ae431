import {
  decodeContextEntry,
  decodePasidDirEntry,
  decodePasidEntry,
  decodeRootEntry,
  encodeContextEntry,
  encodePasidDirEntry,
  encodePasidEntry,
  encodeRootEntry,
  type PhysAddr,
  type PhysicalMemory,
  readQwords,
  VTD_CONTEXT_ENTRIES,
  VTD_CONTEXT_ENTRY_SIZE,
  VTD_PASID_DIR_ENTRY_SIZE,
  VTD_PASID_ENTRY_SIZE,
  VTD_PASID_TABLE_ENTRIES,
  VTD_ROOT_ENTRY_SIZE,
  type VtdInvalidation,
  type VtdPasidEntry,
  writeQwords,
} from "@liveupdate/core";
import { PASID_DIR_PDTS, RID_PASID } from "../abi.js";
import { type Invalidator, invalidateAll } from "./invalidation-queue.js";
import type { TablePageSource } from "./page-source.js";

/** The per-device structures: the PASID directory and the PASID table pages under it. */
export interface DeviceTables {
  /** Requester id. */
  readonly requesterId: number;
  /** PASID directory page. */
  readonly pasidDirectory: PhysAddr;
  /** PASID table pages by directory index (PASID bits 19:6). */
  readonly pasidTables: Map<number, PhysAddr>;
}

/** Key of the context table holding `rid`'s entry: `bus * 2 + (devfn >= 128 ? 1 : 0)`. */
export function contextTableKey(rid: number): number {
  return (rid >> 8) * 2 + ((rid & 0xff) >= VTD_CONTEXT_ENTRIES ? 1 : 0);
}

/** The context cache, the PASID cache and the IOTLB, globally (after SRTP, or for untrusted state). */
export const GLOBAL_FLUSH: readonly VtdInvalidation[] = Object.freeze([
  { kind: "context-global" },
  { kind: "pasid-cache-global" },
  { kind: "iotlb-global" },
]);

/** What a changed PASID entry needs flushed: its PASID cache entry, (first stage) its PASID IOTLB, its domain's IOTLB. */
function pasidFlush(domainId: number, pasid: number, firstStage: boolean): VtdInvalidation[] {
  const out: VtdInvalidation[] = [{ kind: "pasid-cache-pasid", domainId, pasid }];
  if (firstStage) out.push({ kind: "pasid-iotlb", domainId, pasid });
  out.push({ kind: "iotlb-domain", domainId });
  return out;
}

/** PASID entries of one device that are present, by PASID. */
export type PresentPasids = Map<number, ReturnType<typeof decodePasidEntry>>;

/**
 * The scalable-mode root table, the context tables and every device's PASID directory and tables,
 * kept in physical memory with core's encoders, with the invalidations VT-d requires after each
 * change (caching mode 0: entries going from not present to present need none; every other change
 * flushes the context cache, PASID cache and IOTLB of what it touched).
 */
export class VtdContextTables {
  /** Context table pages by `bus * 2 + (devfn >= 128 ? 1 : 0)`. */
  readonly contextTables = new Map<number, PhysAddr>();
  /** Per-device structures by requester id. */
  readonly devices = new Map<number, DeviceTables>();

  /**
   * @param memory - physical memory.
   * @param iommu - where invalidations go: the driver's queue ({@link QueuedInvalidation}) or the unit.
   * @param source - where new pages come from.
   * @param root - the root table page.
   */
  constructor(
    private readonly memory: PhysicalMemory,
    private readonly iommu: Invalidator,
    private readonly source: TablePageSource,
    readonly root: PhysAddr,
  ) {}

  /** Every page of the root and context tables (the IOMMU core's own pages). */
  corePages(): PhysAddr[] {
    return [this.root, ...this.contextTables.values()];
  }

  /** Every page of one device's structures (preserved with the context that owns the device). */
  devicePages(rid: number): PhysAddr[] {
    const d = this.devices.get(rid);
    return d === undefined ? [] : [d.pasidDirectory, ...d.pasidTables.values()];
  }

  /** Physical address of the context entry of `rid`, creating its context table if `create`. */
  private contextSlot(rid: number, create: boolean): PhysAddr | undefined {
    const bus = rid >> 8;
    const devfn = rid & 0xff;
    const upper = devfn >= VTD_CONTEXT_ENTRIES;
    const key = contextTableKey(rid);
    let table = this.contextTables.get(key);
    if (table === undefined) {
      if (!create) return undefined;
      table = this.source.alloc();
      this.contextTables.set(key, table);
      const rootSlot = this.root + bus * VTD_ROOT_ENTRY_SIZE;
      const [lo, hi] = readQwords(this.memory, rootSlot, 2);
      const current = decodeRootEntry(lo!, hi!);
      writeQwords(
        this.memory,
        rootSlot,
        encodeRootEntry({
          lowerContextTable: upper ? current.lowerContextTable : table,
          upperContextTable: upper ? table : current.upperContextTable,
        }),
      );
    }
    return table + (devfn % VTD_CONTEXT_ENTRIES) * VTD_CONTEXT_ENTRY_SIZE;
  }

  /** The device's structures, creating the PASID directory and its context entry on first use. */
  private device(rid: number): DeviceTables {
    let d = this.devices.get(rid);
    if (d !== undefined) return d;
    const pasidDirectory = this.source.alloc();
    d = { requesterId: rid, pasidDirectory, pasidTables: new Map() };
    this.devices.set(rid, d);
    writeQwords(
      this.memory,
      this.contextSlot(rid, true)!,
      encodeContextEntry({
        present: true,
        pasidDirectory,
        pasidDirectorySize: PASID_DIR_PDTS,
        ridPasid: RID_PASID,
        pasidEnable: true,
      }),
    );
    return d;
  }

  /** Address of the PASID table entry of (`rid`, `pasid`), creating its table if needed. */
  private pasidSlot(d: DeviceTables, pasid: number, create: boolean): PhysAddr | undefined {
    const dirIndex = pasid >> 6;
    let table = d.pasidTables.get(dirIndex);
    if (table === undefined) {
      if (!create) return undefined;
      table = this.source.alloc();
      d.pasidTables.set(dirIndex, table);
      this.memory.writeU64(
        d.pasidDirectory + dirIndex * VTD_PASID_DIR_ENTRY_SIZE,
        encodePasidDirEntry({ present: true, pasidTable: table }),
      );
    }
    return table + (pasid % VTD_PASID_TABLE_ENTRIES) * VTD_PASID_ENTRY_SIZE;
  }

  /**
   * Points (`rid`, `pasid`) at a translation (`entry`), replacing what was there: the old entry is
   * cleared and flushed first (PASID cache and IOTLB of its domain), as the spec orders it.
   */
  setPasidEntry(rid: number, pasid: number, entry: VtdPasidEntry): void {
    this.clearPasidEntry(rid, pasid);
    const slot = this.pasidSlot(this.device(rid), pasid, true)!;
    writeQwords(this.memory, slot, encodePasidEntry(entry));
    // Not present → present needs no flush with caching mode 0; the PASID cache is flushed anyway
    // so a stale negative entry can never survive (cheap, and what Linux does).
    this.iommu.invalidate({ kind: "pasid-cache-pasid", domainId: entry.domainId, pasid });
  }

  /** Clears (`rid`, `pasid`) and flushes what it cached; a no-op when it was not present. */
  clearPasidEntry(rid: number, pasid: number): void {
    const d = this.devices.get(rid);
    if (d === undefined) return;
    const slot = this.pasidSlot(d, pasid, false);
    if (slot === undefined) return;
    const [q0, q1, q2] = readQwords(this.memory, slot, 3);
    const old = decodePasidEntry(q0!, q1!, q2!);
    if (!old.present) return;
    writeQwords(this.memory, slot, [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]);
    this.flushPasid(old.domainId, pasid, old.type === "nested" || old.type === "first-stage");
  }

  private flushPasid(domainId: number, pasid: number, firstStage: boolean): void {
    invalidateAll(this.iommu, pasidFlush(domainId, pasid, firstStage));
  }

  /** The present PASID entries of `rid`, read from memory. */
  presentPasids(rid: number): PresentPasids {
    const out: PresentPasids = new Map();
    const d = this.devices.get(rid);
    if (d === undefined) return out;
    for (const [dirIndex, table] of d.pasidTables) {
      for (let i = 0; i < VTD_PASID_TABLE_ENTRIES; i++) {
        const [q0, q1, q2] = readQwords(this.memory, table + i * VTD_PASID_ENTRY_SIZE, 3);
        const e = decodePasidEntry(q0!, q1!, q2!);
        if (e.present) out.set(dirIndex * VTD_PASID_TABLE_ENTRIES + i, e);
      }
    }
    return out;
  }

  /**
   * Blocks `rid`: clears its context entry and flushes the context cache, the PASID cache and the
   * IOTLB of every domain it used — what a reboot does to a device nobody preserved. Its pages are
   * freed when `free` (they are not preserved).
   */
  blockDevice(rid: number, free: boolean): void {
    const present = this.presentPasids(rid);
    const slot = this.contextSlot(rid, false);
    if (slot !== undefined) writeQwords(this.memory, slot, [0n, 0n, 0n, 0n]);
    const flush: VtdInvalidation[] = [{ kind: "context-device", sourceId: rid }];
    for (const [pasid, e] of present) flush.push(...pasidFlush(e.domainId, pasid, e.type !== "second-stage"));
    invalidateAll(this.iommu, flush);
    if (free) for (const page of this.devicePages(rid)) this.source.free(page);
    this.devices.delete(rid);
  }

  /**
   * Blocks `rid` on behalf of a handover that failed its checks: clears its context entry and
   * flushes every cache globally (the handover's domain ids cannot be trusted to target a flush).
   */
  blockUntrusted(rid: number): void {
    this.clearContextEntry(rid);
    this.flushAll();
    this.devices.delete(rid);
  }

  /** Clears `rid`'s context entry without flushing (the caller flushes, e.g. {@link VtdContextTables.flushAll}). */
  clearContextEntry(rid: number): void {
    const slot = this.contextSlot(rid, false);
    if (slot !== undefined) writeQwords(this.memory, slot, [0n, 0n, 0n, 0n]);
  }

  /** Flushes the context cache, the PASID cache and the IOTLB globally. */
  flushAll(): void {
    invalidateAll(this.iommu, GLOBAL_FLUSH);
  }

  /** Requester ids whose context entry is present (bit 0), over every context table known here. */
  presentContextEntries(): number[] {
    const out: number[] = [];
    for (const [key, table] of this.contextTables) {
      const bus = key >> 1;
      const base = (key & 1) * VTD_CONTEXT_ENTRIES;
      for (let i = 0; i < VTD_CONTEXT_ENTRIES; i++) {
        if ((this.memory.readU64(table + i * VTD_CONTEXT_ENTRY_SIZE) & 1n) !== 0n)
          out.push((bus << 8) | (base + i));
      }
    }
    return out.sort((a, b) => a - b);
  }

  /** The four qwords of `rid`'s context entry (undefined when its context table is absent). */
  readContextQwords(rid: number): bigint[] | undefined {
    const slot = this.contextSlot(rid, false);
    return slot === undefined ? undefined : readQwords(this.memory, slot, 4);
  }

  /** The context entry of `rid` as memory holds it (undefined when its context table is absent). */
  readContext(rid: number): ReturnType<typeof decodeContextEntry> | undefined {
    const slot = this.contextSlot(rid, false);
    if (slot === undefined) return undefined;
    const [q0, q1] = readQwords(this.memory, slot, 2);
    return decodeContextEntry(q0!, q1!);
  }

  /**
   * Reads a PASID directory from memory: its present entries (index → PASID table page), or the
   * index of the first entry with bits other than present and the pointer.
   */
  readPasidDirectory(directory: PhysAddr): Map<number, PhysAddr> | number {
    const out = new Map<number, PhysAddr>();
    for (let i = 0; i < 2 ** (PASID_DIR_PDTS + 7); i++) {
      const q = this.memory.readU64(directory + i * VTD_PASID_DIR_ENTRY_SIZE);
      if (q === 0n) continue;
      const e = decodePasidDirEntry(q);
      if (!e.present || e.faultProcessingDisable || (q & 0xffen) !== 0n) return i;
      out.set(i, e.pasidTable);
    }
    return out;
  }

  /** Takes over a device's structures from a handover (already validated). */
  adoptDevice(tables: DeviceTables): void {
    this.devices.set(tables.requesterId, tables);
  }

  /** Takes over a context table of a handover (already validated). */
  adoptContextTable(key: number, page: PhysAddr): void {
    this.contextTables.set(key, page);
  }
}
