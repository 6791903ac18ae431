/**
 * Test fixtures: build VT-d structures in a machine's memory with the public encoders, as a driver
 * would.
 */
import {
  encodeContextEntry,
  encodeFirstStageEntry,
  encodePasidDirEntry,
  encodePasidEntry,
  encodeRootEntry,
  encodeSecondStageEntry,
  Machine,
  tableIndex,
  type VtdIommuOptions,
  type VtdPasidEntry,
  writeQwords,
} from "@liveupdate/core";

export const KiB4 = 4096;
export const MiB2 = 2 * 1024 * 1024;
export const GiB1 = 1024 * 1024 * 1024;

/** Hands out zeroed 4 KiB pages from a bump pointer. */
export class PageAllocator {
  constructor(private next: number) {}
  page(): number {
    const p = this.next;
    this.next += KiB4;
    return p;
  }
}

/** Which level a leaf of `size` sits at. */
export function leafLevel(size: number): number {
  return size === KiB4 ? 1 : size === MiB2 ? 2 : 3;
}

/**
 * A 4-level page table (either stage) whose tables live in some address space: `toHost` turns a
 * table address into the host-physical address to write (identity for host tables; the second
 * stage for a nested guest's first-stage tables).
 */
export class TableBuilder {
  readonly root: number;
  constructor(
    private readonly machine: Machine,
    private readonly alloc: () => number,
    readonly stage: "second" | "first",
    private readonly toHost: (addr: number) => number = (a) => a,
  ) {
    this.root = alloc();
  }

  private entry(address: number, leaf: boolean, read: boolean, write: boolean): bigint {
    if (this.stage === "second") return encodeSecondStageEntry({ address, read, write, largePage: leaf });
    return encodeFirstStageEntry({ address, present: true, writable: write, largePage: leaf });
  }

  /** Maps `[iova, iova + size)` to `phys` (a leaf at the level of `size`). */
  map(iova: number, phys: number, size: number, perms: { read?: boolean; write: boolean }): void {
    const target = leafLevel(size);
    let table = this.root;
    for (let level = 4; level > target; level--) {
      const slot = this.toHost(table) + tableIndex(iova, level) * 8;
      const current = this.machine.memory.readU64(slot);
      if (current === 0n) {
        const next = this.alloc();
        this.machine.memory.writeU64(slot, this.entry(next, false, true, true));
        table = next;
      } else {
        table = Number(current & 0x000f_ffff_ffff_f000n);
      }
    }
    const slot = this.toHost(table) + tableIndex(iova, target) * 8;
    this.machine.memory.writeU64(slot, this.entry(phys, target > 1, perms.read ?? true, perms.write));
  }

  /** Clears the leaf mapping `iova` at the level of `size` (tables stay). */
  unmap(iova: number, size: number): void {
    const target = leafLevel(size);
    let table = this.root;
    for (let level = 4; level > target; level--) {
      const current = this.machine.memory.readU64(this.toHost(table) + tableIndex(iova, level) * 8);
      table = Number(current & 0x000f_ffff_ffff_f000n);
    }
    this.machine.memory.writeU64(this.toHost(table) + tableIndex(iova, target) * 8, 0n);
  }
}

/** Root table, context tables and PASID structures for devices, written with the public encoders. */
export class DeviceTables {
  readonly root: number;
  private readonly contextTables = new Map<number, number>();
  private readonly pasidDirs = new Map<number, number>();
  private readonly pasidTables = new Map<string, number>();

  constructor(
    private readonly machine: Machine,
    private readonly alloc: () => number,
  ) {
    this.root = alloc();
  }

  /** Attaches `rid` with a context entry (PASID directory of 2^7 entries) and RID_PASID `ridPasid`. */
  attach(rid: number, options: { ridPasid?: number; pasidEnable?: boolean; fpd?: boolean } = {}): void {
    const bus = rid >> 8;
    const devfn = rid & 0xff;
    const half = devfn >= 128 ? "upper" : "lower";
    const key = bus * 2 + (half === "upper" ? 1 : 0);
    let ctx = this.contextTables.get(key);
    if (ctx === undefined) {
      ctx = this.alloc();
      this.contextTables.set(key, ctx);
      const lower = this.contextTables.get(bus * 2);
      const upper = this.contextTables.get(bus * 2 + 1);
      writeQwords(
        this.machine.memory,
        this.root + bus * 16,
        encodeRootEntry({ lowerContextTable: lower, upperContextTable: upper }),
      );
    }
    let dir = this.pasidDirs.get(rid);
    if (dir === undefined) {
      dir = this.alloc();
      this.pasidDirs.set(rid, dir);
    }
    writeQwords(
      this.machine.memory,
      ctx + (devfn & 0x7f) * 32,
      encodeContextEntry({
        present: true,
        pasidDirectory: dir,
        pasidDirectorySize: 0,
        ridPasid: options.ridPasid ?? 0,
        pasidEnable: options.pasidEnable ?? true,
        faultProcessingDisable: options.fpd ?? false,
      }),
    );
  }

  /** Writes the PASID table entry of (`rid`, `pasid`). */
  setPasid(rid: number, pasid: number, entry: VtdPasidEntry): void {
    const dir = this.pasidDirs.get(rid)!;
    const key = `${rid}:${pasid >> 6}`;
    let table = this.pasidTables.get(key);
    if (table === undefined) {
      table = this.alloc();
      this.pasidTables.set(key, table);
      this.machine.memory.writeU64(
        dir + (pasid >> 6) * 8,
        encodePasidDirEntry({ present: true, pasidTable: table }),
      );
    }
    writeQwords(this.machine.memory, table + (pasid & 63) * 64, encodePasidEntry(entry));
  }

  /** Host address of the PASID table entry of (`rid`, `pasid`). */
  pasidEntryAddress(rid: number, pasid: number): number {
    return this.pasidTables.get(`${rid}:${pasid >> 6}`)! + (pasid & 63) * 64;
  }

  /** Host address of `rid`'s context entry. */
  contextEntryAddress(rid: number): number {
    const devfn = rid & 0xff;
    return this.contextTables.get((rid >> 8) * 2 + (devfn >= 128 ? 1 : 0))! + (devfn & 0x7f) * 32;
  }

  /** Host address of `rid`'s PASID directory. */
  pasidDirectory(rid: number): number {
    return this.pasidDirs.get(rid)!;
  }
}

/** A machine with an IOMMU whose tables are allocated from 16 MiB upwards. */
export function setup(
  memory = "1G",
  iommu: VtdIommuOptions = {},
): { machine: Machine; alloc: () => number; tables: DeviceTables } {
  const machine = new Machine({ memory, manualClock: true, iommu });
  const allocator = new PageAllocator(16 * 1024 * 1024);
  const alloc = (): number => allocator.page();
  const tables = new DeviceTables(machine, alloc);
  machine.iommu.setRootTable(tables.root);
  machine.iommu.enableTranslation();
  return { machine, alloc, tables };
}

/** A DMA request. */
export function req(requesterId: number, iova: number, write = false, pasid?: number) {
  return { requesterId, iova, write, pasid };
}

/** Attaches `rid` with RID_PASID 0 translated second-stage-only by a new table in domain `domainId`. */
export function secondStageDevice(
  env: ReturnType<typeof setup>,
  rid: number,
  domainId: number,
): TableBuilder {
  const ss = new TableBuilder(env.machine, env.alloc, "second");
  env.tables.attach(rid);
  env.tables.setPasid(rid, 0, { present: true, type: "second-stage", domainId, secondStageTable: ss.root });
  return ss;
}
