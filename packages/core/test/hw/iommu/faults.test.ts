import {
  type DmaFaultReason,
  encodeSecondStageEntry,
  VTD_FAULT_REASON as FR,
  VTD_FAULT_RECORDS,
  VTD_REG,
} from "@liveupdate/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KiB4, MiB2, req, setup, TableBuilder } from "./fixtures.js";

const RID = 0x0308; // 03:01.0

function device() {
  const env = setup();
  const ss = new TableBuilder(env.machine, env.alloc, "second");
  ss.map(0x1000, 0x10_0000, KiB4, { write: false });
  ss.map(0x2000, 0x11_0000, KiB4, { read: false, write: true });
  env.tables.attach(RID, { pasidEnable: true });
  env.tables.setPasid(RID, 0, {
    present: true,
    type: "second-stage",
    domainId: 5,
    secondStageTable: ss.root,
  });
  return { ...env, ss };
}

function frcd(machine: ReturnType<typeof setup>["machine"], i: number): { low: bigint; high: bigint } {
  return {
    low: machine.iommu.readRegister(VTD_REG.FRCD + 16 * i),
    high: machine.iommu.readRegister(VTD_REG.FRCD + 16 * i + 8),
  };
}

describe("fault reasons", () => {
  it("records every reason with requester id, PASID, address and the architectural FR code", () => {
    const { machine, tables, alloc } = device();
    const cases: Array<[string, () => void, ReturnType<typeof req>, DmaFaultReason, number]> = [
      [
        "no root entry for the bus",
        () => {},
        req(0x0900, 0x1000),
        "context-not-present",
        FR.ROOT_NOT_PRESENT,
      ],
      [
        "no context entry for the devfn",
        () => {},
        req(RID + 1, 0x1000),
        "context-not-present",
        FR.CONTEXT_NOT_PRESENT,
      ],
      [
        "PASID without PASID table entry",
        () => {},
        req(RID, 0x1000, false, 9),
        "pasid-not-present",
        FR.PASID_NOT_PRESENT,
      ],
      [
        "PASID beyond the directory",
        () => {},
        req(RID, 0x1000, false, 1 << 13),
        "pasid-not-present",
        FR.PASID_TOO_LARGE,
      ],
      ["page not present", () => {}, req(RID, 0x5000), "page-not-present", FR.NO_READ],
      ["write to read-only", () => {}, req(RID, 0x1000, true), "write-to-read-only", FR.NO_WRITE],
      ["read of write-only", () => {}, req(RID, 0x2000), "read-not-permitted", FR.NO_READ],
      ["beyond 48 bits", () => {}, req(RID, 2 ** 48), "address-beyond-width", FR.BEYOND_WIDTH],
      [
        "PASID directory not present",
        () => {},
        req(RID, 0x1000, false, 64),
        "pasid-not-present",
        FR.PASID_DIR_NOT_PRESENT,
      ],
      [
        "PASID requests disabled",
        () => tables.attach(RID + 2, { pasidEnable: false }),
        req(RID + 2, 0x1000, false, 1),
        "pasid-not-present",
        FR.PASID_DISABLED,
      ],
      [
        "reserved bits in a PTE",
        () => {
          const ss = new TableBuilder(machine, alloc, "second");
          ss.map(0, 0x10_0000, KiB4, { write: true });
          tables.attach(RID + 3);
          tables.setPasid(RID + 3, 0, {
            present: true,
            type: "second-stage",
            domainId: 6,
            secondStageTable: ss.root,
          });
          machine.memory.writeU64(ss.root, machine.memory.readU64(ss.root) | (1n << 11n));
        },
        req(RID + 3, 0),
        "reserved-bits",
        FR.SS_RESERVED,
      ],
    ];
    for (const [what, arrange, request, reason, code] of cases) {
      arrange();
      const before = machine.iommu.faults.total;
      expect(machine.iommu.translate(request), what).toEqual({ ok: false, reason });
      const last = machine.iommu.faults.records().at(-1)!;
      expect(machine.iommu.faults.total, what).toBe(before + 1);
      expect(last, what).toMatchObject({
        reason,
        code,
        requesterId: request.requesterId,
        pasid: request.pasid,
        iova: request.iova,
        write: request.write,
      });
    }
    expect(machine.iommu.faults.countFor(RID)).toBe(7);
    expect(machine.iommu.exportState().faultsByRequester["0308"]).toBe(7);
  });

  it("reserved bits in each structure are reserved-bits faults with that structure's FR code", () => {
    const cases: Array<[string, (t: ReturnType<typeof device>) => number, bigint, number]> = [
      ["root entry bit 1", (t) => t.tables.root + (RID >> 8) * 16, 1n << 1n, FR.ROOT_RESERVED],
      ["context entry bit 5", (t) => t.tables.contextEntryAddress(RID), 1n << 5n, FR.CONTEXT_RESERVED],
      ["context entry qword 2", (t) => t.tables.contextEntryAddress(RID) + 16, 1n, FR.CONTEXT_RESERVED],
      ["PASID directory bit 2", (t) => t.tables.pasidDirectory(RID), 1n << 2n, FR.PASID_DIR_RESERVED],
      ["PASID entry bit 10", (t) => t.tables.pasidEntryAddress(RID, 0), 1n << 10n, FR.PASID_RESERVED],
      ["PASID entry qword 5", (t) => t.tables.pasidEntryAddress(RID, 0) + 40, 1n, FR.PASID_RESERVED],
      ["PGTT 111b", (t) => t.tables.pasidEntryAddress(RID, 0), 7n << 6n, FR.PASID_INVALID],
      ["second-stage PS in the PML4", (t) => t.ss.root, 1n << 7n, FR.SS_RESERVED],
      ["second-stage address above 46 bits", (t) => t.ss.root, 1n << 47n, FR.SS_RESERVED],
    ];
    for (const [what, where, bits, code] of cases) {
      const t = device();
      const at = where(t);
      t.machine.memory.writeU64(at, t.machine.memory.readU64(at) | bits);
      expect(t.machine.iommu.translate(req(RID, 0x1000)), what).toEqual({
        ok: false,
        reason: "reserved-bits",
      });
      expect(t.machine.iommu.faults.records().at(-1)!.code, what).toBe(code);
    }
  });

  it("first-stage: XD is reserved without NXE; a nested first-stage table the second stage does not map faults", () => {
    const { machine, tables, alloc } = device();
    const fs = new TableBuilder(machine, alloc, "first");
    fs.map(0, 0x10_0000, KiB4, { write: true });
    machine.memory.writeU64(fs.root, machine.memory.readU64(fs.root) | (1n << 63n));
    tables.attach(RID + 7);
    tables.setPasid(RID + 7, 0, {
      present: true,
      type: "first-stage",
      domainId: 2,
      firstStageTable: fs.root,
    });
    expect(machine.iommu.translate(req(RID + 7, 0))).toEqual({ ok: false, reason: "reserved-bits" });
    tables.setPasid(RID + 7, 0, {
      present: true,
      type: "first-stage",
      domainId: 2,
      firstStageTable: fs.root,
      noExecuteEnable: true,
    });
    machine.iommu.invalidate({ kind: "pasid-cache-global" });
    expect(machine.iommu.translate(req(RID + 7, 0)).ok).toBe(true);
    // Nested, with an empty second stage: the guest's first-stage table itself is not mapped.
    const ss = new TableBuilder(machine, alloc, "second");
    tables.setPasid(RID + 7, 1, {
      present: true,
      type: "nested",
      domainId: 3,
      secondStageTable: ss.root,
      firstStageTable: 0x1000,
    });
    expect(machine.iommu.translate(req(RID + 7, 0, false, 1))).toEqual({
      ok: false,
      reason: "page-not-present",
    });
    expect(machine.iommu.faults.records().at(-1)!.code).toBe(FR.NO_READ);
  });

  it("a pointer past the end of RAM is table-outside-memory", () => {
    const { machine, tables, alloc } = device();
    const ss = new TableBuilder(machine, alloc, "second");
    tables.attach(RID + 4);
    tables.setPasid(RID + 4, 0, {
      present: true,
      type: "second-stage",
      domainId: 8,
      secondStageTable: ss.root,
    });
    machine.memory.writeU64(
      ss.root,
      encodeSecondStageEntry({ address: 0x3f_0000_0000, read: true, write: true }),
    );
    expect(machine.iommu.translate(req(RID + 4, 0x1000))).toEqual({
      ok: false,
      reason: "table-outside-memory",
    });
    expect(machine.iommu.faults.records().at(-1)!.code).toBe(FR.SS_ACCESS);
    machine.iommu.setRootTable(0x3f_0000_0000);
    machine.iommu.invalidate({ kind: "context-global" });
    expect(machine.iommu.translate(req(RID, 0x1000))).toEqual({ ok: false, reason: "table-outside-memory" });
    expect(machine.iommu.faults.records().at(-1)!.code).toBe(FR.ROOT_ACCESS);
  });

  it("a table that points to itself is a loop, in either stage", () => {
    const { machine, tables, alloc } = device();
    const ss = new TableBuilder(machine, alloc, "second");
    machine.memory.writeU64(ss.root, encodeSecondStageEntry({ address: ss.root, read: true, write: true }));
    tables.attach(RID + 5);
    tables.setPasid(RID + 5, 0, {
      present: true,
      type: "second-stage",
      domainId: 8,
      secondStageTable: ss.root,
    });
    expect(machine.iommu.translate(req(RID + 5, 0))).toEqual({ ok: false, reason: "table-loop" });
    const fs = new TableBuilder(machine, alloc, "first");
    const t2 = alloc();
    // PML4[0] → t2, t2[0] (as PDPT) → the PML4 again.
    machine.memory.writeU64(fs.root, 0x3n | BigInt(t2));
    machine.memory.writeU64(t2, 0x3n | BigInt(fs.root));
    tables.attach(RID + 6);
    tables.setPasid(RID + 6, 0, {
      present: true,
      type: "first-stage",
      domainId: 8,
      firstStageTable: fs.root,
    });
    expect(machine.iommu.translate(req(RID + 6, 0))).toEqual({ ok: false, reason: "table-loop" });
  });

  it("translation disabled: DMA passes untranslated and is counted", () => {
    const { machine } = device();
    machine.iommu.enableTranslation(false);
    expect(machine.iommu.translate(req(RID, 0x1234, true))).toEqual({
      ok: true,
      phys: 0x1234,
      contiguous: KiB4 - 0x234,
      untranslated: true,
    });
    expect(machine.iommu.counters().untranslated).toBe(1);
    expect(machine.iommu.readRegister(VTD_REG.GSTS) >> 31n).toBe(0n);
  });
});

describe("fault recording registers (FSTS/FRCD)", () => {
  it("records into FRCD[FRI] with F set; when the next one is still full, PFO is set and the fault is dropped", () => {
    const { machine } = device();
    for (let i = 0; i < VTD_FAULT_RECORDS; i++) machine.iommu.translate(req(RID, 0x10_0000 + i * KiB4));
    const r0 = frcd(machine, 0);
    expect(r0.low).toBe(0x10_0000n);
    expect(Number(r0.high & 0xffffn)).toBe(RID);
    expect(Number((r0.high >> 32n) & 0xffn)).toBe(FR.NO_READ);
    expect(r0.high >> 63n).toBe(1n); // F
    expect((r0.high >> 62n) & 1n).toBe(1n); // T1: read
    let fsts = machine.iommu.readRegister(VTD_REG.FSTS);
    expect(fsts & 3n).toBe(2n); // PPF, no PFO
    machine.iommu.translate(req(RID, 0x20_0000, false, 3));
    fsts = machine.iommu.readRegister(VTD_REG.FSTS);
    expect(fsts & 1n).toBe(1n); // PFO
    expect(machine.iommu.faults.records().at(-1)!.recorded).toBe(false);
    // Software clears FRCD[0] (W1C of F) and PFO; the next fault goes to FRCD[0] with its PASID.
    machine.iommu.writeRegister(VTD_REG.FRCD + 8, 1n << 63n);
    machine.iommu.writeRegister(VTD_REG.FSTS, 1n);
    machine.iommu.translate(req(RID, 0x30_0000, true, 0));
    const again = frcd(machine, 0);
    expect(again.low).toBe(0x30_0000n);
    expect((again.high >> 31n) & 1n).toBe(1n); // PP
    expect((again.high >> 62n) & 1n).toBe(0n); // write
    expect(Number((machine.iommu.readRegister(VTD_REG.FSTS) >> 8n) & 0xffn)).toBe(1); // FRI
  });

  it("FPD in the context entry suppresses recording, not the fault", () => {
    const env = setup();
    const ss = new TableBuilder(env.machine, env.alloc, "second");
    env.tables.attach(RID, { fpd: true });
    env.tables.setPasid(RID, 0, {
      present: true,
      type: "second-stage",
      domainId: 5,
      secondStageTable: ss.root,
    });
    expect(env.machine.iommu.translate(req(RID, 0)).ok).toBe(false);
    expect(env.machine.iommu.faults.records()[0]!.recorded).toBe(false);
    expect(frcd(env.machine, 0).high >> 63n).toBe(0n);
  });
});

const REASONS: DmaFaultReason[] = [
  "context-not-present",
  "pasid-not-present",
  "page-not-present",
  "write-to-read-only",
  "read-not-permitted",
  "reserved-bits",
  "address-beyond-width",
  "table-outside-memory",
  "table-loop",
];

describe("hostile tables never throw and always terminate", () => {
  it("random bytes in every structure give a translation or a fault", () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { minLength: 64, maxLength: 64 }),
        fc.array(fc.integer({ min: 0, max: 2 ** 48 }), { minLength: 1, maxLength: 8 }),
        fc.option(fc.integer({ min: 0, max: 2 ** 20 - 1 }), { nil: undefined }),
        (garbage, iovas, pasid) => {
          const { machine, tables, alloc } = device();
          const ss = new TableBuilder(machine, alloc, "second");
          ss.map(0, 0x10_0000, MiB2, { write: true });
          // Scribble over the context entry, the PASID entry, and the tables.
          const targets = [
            tables.contextEntryAddress(RID),
            tables.pasidEntryAddress(RID, 0),
            tables.pasidDirectory(RID),
            ss.root,
            tables.root + (RID >> 8) * 16,
          ];
          garbage.forEach((q, i) => {
            const base = targets[i % targets.length]!;
            machine.memory.writeU64(base + 8 * (Math.floor(i / targets.length) % 8), q);
          });
          for (const iova of iovas) {
            for (const write of [false, true]) {
              const t = machine.iommu.translate({ requesterId: RID, pasid, iova, write });
              if (t.ok) expect(t.contiguous).toBeGreaterThan(0);
              else expect(REASONS).toContain(t.reason);
              machine.iommu.walk({ requesterId: RID, pasid, iova, write });
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
