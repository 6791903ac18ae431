import {
  decodeSecondStageEntry,
  encodeSecondStageEntry,
  type Machine,
  type PhysicalMemory,
  sizeOf,
  tableIndex,
} from "@liveupdate/core";
import { fieldOffset, type LuoHandoverImage } from "@liveupdate/core/testkit";
import { describe, expect, it } from "vitest";
import {
  IommufdAreaV1,
  IommufdHandoverMismatchError,
  IommufdHwptV2,
  IommufdLeafOutsideMappingError,
  IommufdTableFormatError,
  IommufdTableNotPreservedError,
  IommufdTableSharedError,
  IommufdV2,
} from "../src/index.js";
import { boot, DmaProbe, KiB4, MiB } from "./fixtures.js";

/** Address of the entry at `level` that `iova` goes through in the tree under `top`. */
function entrySlot(memory: PhysicalMemory, top: number, iova: number, level: number): number {
  let table = top;
  for (let l = 4; l > level; l--)
    table = decodeSecondStageEntry(memory.readU64(table + tableIndex(iova, l) * 8)).address;
  return table + tableIndex(iova, level) * 8;
}

/** Two VMs, each with its RAM file and an iommufd context, in sessions "vm-a" and "vm-b". */
function twoVms() {
  const { h, gm, fd } = boot();
  const make = (name: string, bdf: string) => {
    const file = gm.create(name, { size: 4 * MiB });
    const ctx = fd.open();
    const ioas = fd.ioasAlloc(ctx);
    const hwpt = fd.hwptAlloc(ioas, { largePages: false });
    const dev = fd.bind(ctx, bdf);
    fd.attach(dev, hwpt);
    fd.map(ioas, { iova: 0x100_0000, file, length: 4 * MiB });
    h.preserve(1, file, { session: name });
    h.preserve(2, ctx, { session: name });
    return { file, ctx, ioas, hwpt, dev };
  };
  const a = make("vm-a", "00:04.0");
  const b = make("vm-b", "00:05.0");
  return { h, fd, a, b };
}

type Crafter = (handover: LuoHandoverImage, machine: Machine, vms: ReturnType<typeof twoVms>) => void;

/** Runs an update with a hostile old kernel; returns the error and checks VM A's device is blocked. */
function hostile(craft: Crafter): unknown {
  const vms = twoVms();
  const { h, a } = vms;
  const probe = new DmaProbe(h.machine, [{ requesterId: a.dev.requesterId, iova: 0x100_0000 }]);
  let error: unknown;
  try {
    h.update({ beforeBoot: (handover, machine) => craft(handover, machine, vms) });
  } catch (e) {
    error = e;
  }
  const req = { requesterId: a.dev.requesterId, pasid: undefined, iova: 0x100_0000, write: true };
  expect(h.machine.iommu.walk(req)).toMatchObject({ ok: false, reason: "context-not-present" });
  expect(h.machine.iommu.translate(req).ok).toBe(false); // nothing cached survives either
  const faults = probe.totalFaults();
  h.machine.run(10_000);
  expect(probe.totalFaults()).toBeGreaterThan(faults);
  probe.stop();
  return (error as { cause?: unknown } | undefined)?.cause;
}

/** Physical address of field `field` of HWPT 0 in VM A's record. */
function hwptField(handover: LuoHandoverImage, machine: Machine, field: string): number {
  const record = handover.file("vm-a", 2)!.data;
  const array = Number(machine.memory.readU64(record + fieldOffset(IommufdV2, "hwpts")));
  return array + 0 * sizeOf(IommufdHwptV2) + fieldOffset(IommufdHwptV2, field);
}

describe("restore trusts nothing", () => {
  it("adopts an honest handover of two VMs, each VM's DMA landing in its own memory", () => {
    const { h, a, b } = twoVms();
    const probe = new DmaProbe(h.machine, [
      { requesterId: a.dev.requesterId, iova: 0x100_0000 },
      { requesterId: b.dev.requesterId, iova: 0x100_0000 },
    ]);
    h.update();
    h.machine.run(10_000);
    expect(probe.totalFaults()).toBe(0);
    expect(probe.landed.get(0)).toBe(a.file.locate(0).phys);
    expect(probe.landed.get(1)).toBe(b.file.locate(0).phys);
    probe.stop();
  });

  it("refuses a leaf pointing at kernel memory", () => {
    const cause = hostile((_h, machine, { a }) => {
      const slot = entrySlot(machine.memory, a.hwpt.table.top, 0x100_0000 + 5 * KiB4, 1);
      machine.memory.writeU64(slot, encodeSecondStageEntry({ address: 16 * MiB, read: true, write: true }));
    });
    expect(cause).toBeInstanceOf(IommufdLeafOutsideMappingError);
    expect(cause).toMatchObject({ context: { session: "vm-a", iova: "0x1005000", phys: "0x1000000" } });
  });

  it("refuses a leaf pointing at another VM's memory", () => {
    const cause = hostile((_h, machine, { a, b }) => {
      const slot = entrySlot(machine.memory, a.hwpt.table.top, 0x100_0000, 1);
      const theirs = b.file.locate(0).phys;
      machine.memory.writeU64(slot, encodeSecondStageEntry({ address: theirs, read: true, write: true }));
    });
    expect(cause).toBeInstanceOf(IommufdLeafOutsideMappingError);
  });

  it("refuses a table page this object did not preserve", () => {
    const cause = hostile((_h, machine, { a, b }) => {
      // VM A's level-2 entry now points at VM B's level-1 table: preserved, but not for VM A.
      const slotA = entrySlot(machine.memory, a.hwpt.table.top, 0x100_0000, 2);
      const slotB = entrySlot(machine.memory, b.hwpt.table.top, 0x100_0000, 2);
      machine.memory.writeU64(slotA, machine.memory.readU64(slotB));
    });
    expect(cause).toBeInstanceOf(IommufdTableNotPreservedError);
  });

  it("refuses a top table pointer outside preserved memory", () => {
    const cause = hostile((handover, machine) => {
      machine.memory.writeU64(hwptField(handover, machine, "top_table_phys"), BigInt(16 * MiB));
    });
    expect(cause).toBeInstanceOf(IommufdTableNotPreservedError);
    expect(cause).toMatchObject({ context: { field: "hwpts[0]", table: "0x1000000" } });
  });

  it("refuses reserved bits and large pages where the level has none", () => {
    const reserved = hostile((_h, machine, { a }) => {
      const slot = entrySlot(machine.memory, a.hwpt.table.top, 0x100_0000, 1);
      machine.memory.writeU64(slot, machine.memory.readU64(slot) | (1n << 11n));
    });
    expect(reserved).toBeInstanceOf(IommufdTableFormatError);
    const large = hostile((_h, machine, { a }) => {
      const slot = entrySlot(machine.memory, a.hwpt.table.top, 0x100_0000, 4);
      machine.memory.writeU64(slot, machine.memory.readU64(slot) | (1n << 7n));
    });
    expect(large).toBeInstanceOf(IommufdTableFormatError);
    expect(large).toMatchObject({ context: { level: 4 } });
  });

  it("refuses a table page shared between two domains", () => {
    // Two domains of one context: the second one's level-4 entry now reaches the first one's level-3 table.
    const run = boot();
    const file = run.gm.create("ram", { size: 4 * MiB });
    const ctx = run.fd.open();
    const ioas = run.fd.ioasAlloc(ctx);
    const one = run.fd.hwptAlloc(ioas, { largePages: false });
    const two = run.fd.hwptAlloc(ioas, { largePages: false });
    run.fd.attach(run.fd.bind(ctx, "00:04.0"), one);
    run.fd.map(ioas, { iova: 0x100_0000, file, length: 4 * MiB });
    run.h.preserve(1, file);
    run.h.preserve(2, ctx);
    let error: unknown;
    try {
      run.h.update({
        beforeBoot: (_handover, machine) => {
          const s1 = entrySlot(machine.memory, one.table.top, 0x100_0000, 4);
          const s2 = entrySlot(machine.memory, two.table.top, 0x100_0000, 4);
          machine.memory.writeU64(s2, machine.memory.readU64(s1));
        },
      });
    } catch (e) {
      error = e;
    }
    expect((error as { cause?: unknown }).cause).toBeInstanceOf(IommufdTableSharedError);
  });

  it("refuses a domain id that is not what the PASID entry holds", () => {
    const cause = hostile((handover, machine) => {
      const at = hwptField(handover, machine, "domain_id");
      machine.memory.writeU16(at, machine.memory.readU16(at) + 100);
    });
    expect(cause).toBeInstanceOf(IommufdHandoverMismatchError);
  });

  it("refuses an area naming a file of another session", () => {
    const cause = hostile((handover, machine) => {
      const record = handover.file("vm-a", 2)!.data;
      const areas = Number(machine.memory.readU64(record + fieldOffset(IommufdV2, "areas")));
      // token 2 of vm-a is the iommufd context itself, not a guestmemfs file of the session
      machine.memory.writeU64(areas + fieldOffset(IommufdAreaV1, "file_token"), 2n);
    });
    expect(cause).toBeInstanceOf(IommufdHandoverMismatchError);
    expect(cause).toMatchObject({ context: { field: "areas[0].file_token" } });
  });
});
