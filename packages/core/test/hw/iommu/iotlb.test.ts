import {
  encodeInvalidation,
  type Machine,
  submitInvalidations,
  VTD_REG,
  type VtdInvalidation,
  VtdQueueError,
  writeQwords,
} from "@liveupdate/core";
import { describe, expect, it } from "vitest";
import { KiB4, MiB2, req, setup, TableBuilder } from "./fixtures.js";

const A = 0x0100;
const B = 0x0200;

/** Two devices in two domains (DID 1 and 2), each with a 4 KiB mapping at IOVA 0x1000 and a 2 MiB one at 2 MiB. */
function twoDomains() {
  const env = setup();
  const { machine, alloc, tables } = env;
  const ssA = new TableBuilder(machine, alloc, "second");
  const ssB = new TableBuilder(machine, alloc, "second");
  ssA.map(0x1000, 0x10_0000, KiB4, { write: true });
  ssA.map(MiB2, 0x4000_0000, MiB2, { write: true });
  ssB.map(0x1000, 0x20_0000, KiB4, { write: true });
  tables.attach(A);
  tables.attach(B);
  tables.setPasid(A, 0, { present: true, type: "second-stage", domainId: 1, secondStageTable: ssA.root });
  tables.setPasid(B, 0, { present: true, type: "second-stage", domainId: 2, secondStageTable: ssB.root });
  return { ...env, ssA, ssB };
}

function physOf(machine: Machine, rid: number, iova: number, pasid?: number): number | string {
  const t = machine.iommu.translate(req(rid, iova, false, pasid));
  return t.ok ? t.phys : t.reason;
}

describe("IOTLB and caches: stale until invalidated", () => {
  it("a remapped page reads the stale translation until the page is invalidated", () => {
    const { machine, ssA } = twoDomains();
    expect(physOf(machine, A, 0x1000)).toBe(0x10_0000);
    ssA.map(0x1000, 0x30_0000, KiB4, { write: true }); // driver changes the PTE, forgets to invalidate
    expect(physOf(machine, A, 0x1000)).toBe(0x10_0000);
    expect(machine.iommu.walk(req(A, 0x1000)).ok && machine.iommu.walk(req(A, 0x1000))).toMatchObject({
      phys: 0x30_0000,
    });
    machine.iommu.invalidate({ kind: "iotlb-page", domainId: 1, address: 0x1000, addressMask: 0 });
    expect(physOf(machine, A, 0x1000)).toBe(0x30_0000);
  });

  it("an unmapped page keeps translating until invalidated, then faults", () => {
    const { machine, ssA } = twoDomains();
    expect(physOf(machine, A, 0x1000)).toBe(0x10_0000);
    ssA.unmap(0x1000, KiB4);
    expect(physOf(machine, A, 0x1000)).toBe(0x10_0000);
    machine.iommu.invalidate({ kind: "iotlb-domain", domainId: 1 });
    expect(physOf(machine, A, 0x1000)).toBe("page-not-present");
  });

  it("page-selective invalidation covers its range only (AM), and drops a 2 MiB leaf it overlaps", () => {
    const { machine, ssA } = twoDomains();
    physOf(machine, A, 0x1000);
    physOf(machine, A, MiB2 + 0x5000);
    ssA.map(0x1000, 0x30_0000, KiB4, { write: true });
    ssA.map(MiB2, 0x5000_0000, MiB2, { write: true });
    // 8 pages from 16 KiB: neither mapping.
    machine.iommu.invalidate({ kind: "iotlb-page", domainId: 1, address: 0x4000, addressMask: 2 });
    expect(physOf(machine, A, 0x1000)).toBe(0x10_0000);
    // One 4 KiB page inside the 2 MiB leaf: the whole leaf goes.
    machine.iommu.invalidate({ kind: "iotlb-page", domainId: 1, address: MiB2 + 0x8000, addressMask: 0 });
    expect(physOf(machine, A, MiB2 + 0x5000)).toBe(0x5000_5000);
    expect(physOf(machine, A, 0x1000)).toBe(0x10_0000);
  });

  it("a domain invalidation leaves other domains cached; a global one drops everything", () => {
    const { machine, ssA, ssB } = twoDomains();
    physOf(machine, A, 0x1000);
    physOf(machine, B, 0x1000);
    ssA.map(0x1000, 0x31_0000, KiB4, { write: true });
    ssB.map(0x1000, 0x32_0000, KiB4, { write: true });
    machine.iommu.invalidate({ kind: "iotlb-domain", domainId: 1 });
    expect(physOf(machine, A, 0x1000)).toBe(0x31_0000);
    expect(physOf(machine, B, 0x1000)).toBe(0x20_0000);
    machine.iommu.invalidate({ kind: "iotlb-global" });
    expect(physOf(machine, B, 0x1000)).toBe(0x32_0000);
  });

  it("PASID-based invalidation drops first-stage entries of that PASID only", () => {
    const { machine, alloc, tables } = setup();
    const fs1 = new TableBuilder(machine, alloc, "first");
    const fs2 = new TableBuilder(machine, alloc, "first");
    fs1.map(0x1000, 0x10_0000, KiB4, { write: true });
    fs2.map(0x1000, 0x20_0000, KiB4, { write: true });
    tables.attach(A);
    tables.setPasid(A, 1, { present: true, type: "first-stage", domainId: 4, firstStageTable: fs1.root });
    tables.setPasid(A, 2, { present: true, type: "first-stage", domainId: 4, firstStageTable: fs2.root });
    expect(physOf(machine, A, 0x1000, 1)).toBe(0x10_0000);
    expect(physOf(machine, A, 0x1000, 2)).toBe(0x20_0000);
    fs1.map(0x1000, 0x11_0000, KiB4, { write: true });
    fs2.map(0x1000, 0x21_0000, KiB4, { write: true });
    // The second-stage page-selective descriptor does not touch first-stage entries.
    machine.iommu.invalidate({ kind: "iotlb-page", domainId: 4, address: 0x1000, addressMask: 0 });
    expect(physOf(machine, A, 0x1000, 1)).toBe(0x10_0000);
    machine.iommu.invalidate({
      kind: "pasid-iotlb-page",
      domainId: 4,
      pasid: 1,
      address: 0x1000,
      addressMask: 0,
    });
    expect(physOf(machine, A, 0x1000, 1)).toBe(0x11_0000);
    expect(physOf(machine, A, 0x1000, 2)).toBe(0x20_0000);
    machine.iommu.invalidate({ kind: "pasid-iotlb", domainId: 4, pasid: 2 });
    expect(physOf(machine, A, 0x1000, 2)).toBe(0x21_0000);
  });

  it("a changed PASID entry is used only after a PASID-cache invalidation (and the IOTLB one)", () => {
    const { machine, tables, ssB } = twoDomains();
    expect(physOf(machine, A, 0x1000)).toBe(0x10_0000);
    // Move device A to B's domain: new PASID entry (DID 2, B's table).
    tables.setPasid(A, 0, { present: true, type: "second-stage", domainId: 2, secondStageTable: ssB.root });
    machine.iommu.invalidate({ kind: "iotlb-global" });
    expect(physOf(machine, A, 0x1000)).toBe(0x10_0000); // PASID cache still says DID 1, old table
    machine.iommu.invalidate({ kind: "pasid-cache-pasid", domainId: 2, pasid: 0 });
    expect(physOf(machine, A, 0x1000)).toBe(0x10_0000); // wrong DID: not covered
    machine.iommu.invalidate({ kind: "pasid-cache-domain", domainId: 1 });
    expect(physOf(machine, A, 0x1000)).toBe(0x20_0000);
    tables.setPasid(A, 0, { present: false, type: "second-stage", domainId: 2, secondStageTable: ssB.root });
    machine.iommu.invalidate({ kind: "pasid-cache-global" });
    expect(physOf(machine, A, 0x1000)).toBe("pasid-not-present");
  });

  it("a changed context entry is used only after a context-cache invalidation", () => {
    const { machine, tables } = twoDomains();
    expect(physOf(machine, A, 0x1000)).toBe(0x10_0000);
    // RID_PASID moves to PASID 3, which is not set up.
    tables.attach(A, { ridPasid: 3 });
    expect(physOf(machine, A, 0x1000)).toBe(0x10_0000);
    machine.iommu.invalidate({ kind: "context-device", sourceId: B, functionMask: 0 });
    expect(physOf(machine, A, 0x1000)).toBe(0x10_0000);
    machine.iommu.invalidate({ kind: "context-device", sourceId: A | 7, functionMask: 3 });
    expect(physOf(machine, A, 0x1000)).toBe("pasid-not-present");
    tables.attach(A, { ridPasid: 0 });
    machine.iommu.invalidate({ kind: "context-domain", domainId: 1 });
    expect(physOf(machine, A, 0x1000)).toBe(0x10_0000);
    tables.attach(A, { ridPasid: 3 });
    machine.iommu.invalidate({ kind: "context-global" });
    expect(physOf(machine, A, 0x1000)).toBe("pasid-not-present");
  });

  it("a repointed root table is walked only once the caches are invalidated (ESRTPS = 0)", () => {
    const { machine, alloc } = twoDomains();
    expect(physOf(machine, A, 0x1000)).toBe(0x10_0000);
    machine.iommu.setRootTable(alloc()); // an empty root table
    expect(physOf(machine, A, 0x1000)).toBe(0x10_0000);
    machine.iommu.invalidate({ kind: "context-global" });
    expect(physOf(machine, A, 0x1000)).toBe("context-not-present");
  });

  it("counts hits and misses; a hit reads no memory", () => {
    const { machine } = twoDomains();
    physOf(machine, A, 0x1000);
    const before = machine.iommu.counters();
    for (let i = 0; i < 10; i++) physOf(machine, A, 0x1000 + i * 8);
    const after = machine.iommu.counters();
    expect(after.iotlbHits - before.iotlbHits).toBe(10);
    expect(after.iotlbMisses).toBe(before.iotlbMisses);
    expect(after.walkReads).toBe(before.walkReads);
    expect(after.iotlbEntries).toBe(1);
  });

  it("keeps at most iotlbEntries per address space (oldest evicted)", () => {
    const { machine, alloc, tables } = setup("1G", { iotlbEntries: 4 });
    const ss = new TableBuilder(machine, alloc, "second");
    for (let i = 0; i < 8; i++) ss.map(i * KiB4, 0x10_0000 + i * KiB4, KiB4, { write: true });
    tables.attach(A);
    tables.setPasid(A, 0, { present: true, type: "second-stage", domainId: 1, secondStageTable: ss.root });
    for (let i = 0; i < 8; i++) physOf(machine, A, i * KiB4);
    expect(machine.iommu.counters().iotlbEntries).toBe(4);
    physOf(machine, A, 7 * KiB4);
    physOf(machine, A, 0);
    expect(machine.iommu.counters()).toMatchObject({ iotlbHits: 1, iotlbMisses: 9 });
  });
});

describe("queued invalidation (descriptors in memory)", () => {
  function submit(machine: Machine, queue: number, descriptors: VtdInvalidation[], start = 0): void {
    descriptors.forEach((d, i) => {
      writeQwords(machine.memory, queue + start + i * 32, encodeInvalidation(d));
    });
    machine.iommu.writeRegister(VTD_REG.IQT, start + descriptors.length * 32);
  }

  it("executes descriptors from head to tail; a wait descriptor writes its status and sets IWC", () => {
    const { machine, alloc, ssA } = twoDomains();
    const queue = alloc();
    const status = alloc();
    machine.iommu.enableQueuedInvalidation(queue, 0);
    expect(machine.iommu.readRegister(VTD_REG.GSTS) & (1n << 26n)).toBe(1n << 26n);
    physOf(machine, A, 0x1000);
    ssA.map(0x1000, 0x30_0000, KiB4, { write: true });
    submit(machine, queue, [
      { kind: "iotlb-page", domainId: 1, address: 0x1000, addressMask: 0 },
      { kind: "wait", statusAddress: status, statusData: 0xc0ffee, interrupt: true },
    ]);
    expect(physOf(machine, A, 0x1000)).toBe(0x30_0000);
    expect(machine.memory.readU32(status)).toBe(0xc0ffee);
    expect(machine.iommu.readRegister(VTD_REG.ICS)).toBe(1n);
    expect(machine.iommu.readRegister(VTD_REG.IQH)).toBe(64n);
    machine.iommu.writeRegister(VTD_REG.ICS, 1n);
    expect(machine.iommu.readRegister(VTD_REG.ICS)).toBe(0n);
  });

  it("submitInvalidations fills the queue at its tail (wrapping) and rings it once", () => {
    const { machine, alloc, ssA } = twoDomains();
    const queue = alloc();
    expect(() => submitInvalidations(machine.iommu, machine.memory, [{ kind: "iotlb-global" }])).toThrow(
      VtdQueueError,
    );
    machine.iommu.enableQueuedInvalidation(queue, 0); // one page: 128 descriptors
    const status = alloc();
    for (let round = 0; round < 3; round++) {
      physOf(machine, A, 0x1000);
      ssA.map(0x1000, 0x40_0000 + round * KiB4, KiB4, { write: true });
      const padding: VtdInvalidation[] = Array.from({ length: 60 }, () => ({ kind: "context-global" }));
      submitInvalidations(machine.iommu, machine.memory, [
        ...padding,
        { kind: "iotlb-page", domainId: 1, address: 0x1000, addressMask: 0 },
        { kind: "wait", statusAddress: status, statusData: round + 1 },
      ]);
      expect(physOf(machine, A, 0x1000)).toBe(0x40_0000 + round * KiB4);
      expect(machine.memory.readU32(status)).toBe(round + 1);
    }
    expect(machine.iommu.readRegister(VTD_REG.IQH)).toBe(BigInt((3 * 62 * 32) % 4096));
    const tooMany: VtdInvalidation[] = Array.from({ length: 128 }, () => ({ kind: "iotlb-global" }));
    expect(() => submitInvalidations(machine.iommu, machine.memory, tooMany)).toThrow(/do not fit/);
  });

  it("an invalid descriptor stops the queue with IQE until software clears it", () => {
    const { machine, alloc } = twoDomains();
    const queue = alloc();
    machine.iommu.enableQueuedInvalidation(queue, 0);
    writeQwords(machine.memory, queue, [0xfn, 0n, 0n, 0n]); // type 15: no such descriptor
    machine.iommu.writeRegister(VTD_REG.IQT, 32);
    expect(machine.iommu.readRegister(VTD_REG.FSTS) & 0x10n).toBe(0x10n);
    expect(machine.iommu.readRegister(VTD_REG.IQERCD)).toBe(3n);
    expect(machine.iommu.readRegister(VTD_REG.IQH)).toBe(0n);
    // Software fixes the descriptor, clears IQE, and rings again.
    writeQwords(machine.memory, queue, encodeInvalidation({ kind: "iotlb-global" }));
    machine.iommu.writeRegister(VTD_REG.FSTS, 0x10n);
    machine.iommu.writeRegister(VTD_REG.IQT, 32);
    expect(machine.iommu.readRegister(VTD_REG.IQH)).toBe(32n);
    // A misaligned tail in 256-bit mode.
    machine.iommu.writeRegister(VTD_REG.IQT, 48);
    expect(machine.iommu.readRegister(VTD_REG.IQERCD)).toBe(6n);
  });

  it("descriptors round-trip through the encoder and the hardware decoder", async () => {
    const { decodeInvalidation } = await import("@liveupdate/core");
    const all: VtdInvalidation[] = [
      { kind: "context-global" },
      { kind: "context-domain", domainId: 0xbeef },
      { kind: "context-device", sourceId: 0x1234, functionMask: 2 },
      { kind: "pasid-cache-global" },
      { kind: "pasid-cache-domain", domainId: 3 },
      { kind: "pasid-cache-pasid", domainId: 3, pasid: 0xfffff },
      { kind: "iotlb-global" },
      { kind: "iotlb-domain", domainId: 9 },
      { kind: "iotlb-page", domainId: 9, address: 0x4000_0000, addressMask: 18 },
      { kind: "pasid-iotlb", domainId: 9, pasid: 77 },
      { kind: "pasid-iotlb-page", domainId: 9, pasid: 77, address: 0x20_0000, addressMask: 9 },
      { kind: "wait", interrupt: true, statusAddress: 0x1000, statusData: 0xffff_ffff },
    ];
    for (const inv of all) {
      const [q0, q1] = encodeInvalidation(inv);
      expect(decodeInvalidation(q0, q1)).toEqual(inv);
    }
    expect(() =>
      encodeInvalidation({ kind: "iotlb-page", domainId: 1, address: 0x1000, addressMask: 1 }),
    ).toThrow(/not aligned/);
  });
});
