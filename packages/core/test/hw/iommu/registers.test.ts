import {
  decodeContextEntry,
  decodeFirstStageEntry,
  decodePasidDirEntry,
  decodePasidEntry,
  decodeRootEntry,
  decodeSecondStageEntry,
  encodeContextEntry,
  encodeFirstStageEntry,
  encodePasidDirEntry,
  encodePasidEntry,
  encodeRootEntry,
  encodeSecondStageEntry,
  Machine,
  VTD_CAP_VALUE,
  VTD_ECAP_VALUE,
  VTD_REG,
  VtdEncodeError,
  VtdRegisterError,
} from "@liveupdate/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KiB4, req, setup, TableBuilder } from "./fixtures.js";

const field = (value: bigint, shift: number, bits: number): number =>
  Number((value >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n));

describe("VT-d registers", () => {
  it("capabilities state what is emulated", () => {
    expect(field(VTD_CAP_VALUE, 8, 5)).toBe(0b00100); // SAGAW: 4-level
    expect(field(VTD_CAP_VALUE, 16, 6)).toBe(47); // MGAW 48
    expect(field(VTD_CAP_VALUE, 34, 4)).toBe(0b0011); // 2 MiB and 1 GiB second-stage leaves
    expect(field(VTD_CAP_VALUE, 24, 10) * 16).toBe(VTD_REG.FRCD);
    expect(field(VTD_CAP_VALUE, 40, 8)).toBe(7); // 8 fault recording registers
    for (const bit of [1, 6, 26, 40, 43, 46, 47, 49])
      expect(field(VTD_ECAP_VALUE, bit, 1), `ECAP bit ${bit}`).toBe(1);
    expect(field(VTD_ECAP_VALUE, 8, 10) * 16).toBe(VTD_REG.IOTLB_BLOCK);
  });

  it("GCMD sets TE and latches RTADDR (with TTM) on SRTP; GCMD reads as 0", () => {
    const machine = new Machine({ memory: "64M" });
    const iommu = machine.iommu;
    expect(iommu.readRegister(VTD_REG.GSTS)).toBe(0n);
    iommu.writeRegister(VTD_REG.RTADDR, 0x20_0000n | (1n << 10n));
    expect(iommu.exportState().rootTable).toBe("0x0"); // not latched yet
    iommu.writeRegister(VTD_REG.GCMD, 1n << 30n);
    expect(iommu.readRegister(VTD_REG.GSTS)).toBe(1n << 30n);
    iommu.writeRegister(VTD_REG.GCMD, (1n << 31n) | (1n << 30n));
    expect(iommu.readRegister(VTD_REG.GSTS)).toBe((1n << 31n) | (1n << 30n));
    expect(iommu.translationEnabled).toBe(true);
    expect(iommu.readRegister(VTD_REG.GCMD)).toBe(0n);
    const state = iommu.exportState();
    expect(state).toMatchObject({
      model: "intel-vt-d",
      rootTable: "0x200000",
      translationTableMode: "scalable",
      translationEnabled: true,
    });
    expect(state.registers.rtaddr).toBe("0x200400");
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  });

  it("a legacy-mode root table (TTM = 00) faults every request", () => {
    const { machine } = setup();
    machine.iommu.writeRegister(VTD_REG.RTADDR, 0x20_0000n);
    machine.iommu.writeRegister(VTD_REG.GCMD, (1n << 31n) | (1n << 30n));
    machine.iommu.invalidate({ kind: "context-global" });
    expect(machine.iommu.translate(req(0x100, 0))).toEqual({ ok: false, reason: "reserved-bits" });
  });

  it("register-based invalidation: CCMD and IOTLB_REG invalidate at once and report the granularity done", () => {
    const { machine, alloc, tables } = setup();
    const ss = new TableBuilder(machine, alloc, "second");
    ss.map(0x1000, 0x10_0000, KiB4, { write: true });
    tables.attach(0x100);
    tables.setPasid(0x100, 0, {
      present: true,
      type: "second-stage",
      domainId: 7,
      secondStageTable: ss.root,
    });
    const phys = () => {
      const t = machine.iommu.translate(req(0x100, 0x1000));
      return t.ok ? t.phys : t.reason;
    };
    expect(phys()).toBe(0x10_0000);
    ss.map(0x1000, 0x20_0000, KiB4, { write: true });
    // Page-selective, DID 7, one page at 0x1000.
    machine.iommu.writeRegister(VTD_REG.IVA, 0x1000n);
    machine.iommu.writeRegister(VTD_REG.IOTLB, (1n << 63n) | (3n << 60n) | (7n << 32n));
    expect(phys()).toBe(0x20_0000);
    const iotlb = machine.iommu.readRegister(VTD_REG.IOTLB);
    expect(iotlb >> 63n).toBe(0n); // IVT cleared: done
    expect((iotlb >> 57n) & 3n).toBe(3n); // IAIG: page-selective
    // Device-selective context invalidation after moving RID_PASID to an absent PASID.
    tables.attach(0x100, { ridPasid: 9 });
    expect(phys()).toBe(0x20_0000);
    machine.iommu.writeRegister(VTD_REG.CCMD, (1n << 63n) | (3n << 61n) | (0x100n << 16n));
    expect(phys()).toBe("pasid-not-present");
    const ccmd = machine.iommu.readRegister(VTD_REG.CCMD);
    expect(ccmd >> 63n).toBe(0n);
    expect((ccmd >> 59n) & 3n).toBe(3n);
  });

  it("unknown offsets are typed errors", () => {
    const { iommu } = new Machine({ memory: "64M" });
    expect(() => iommu.readRegister(0x30)).toThrow(VtdRegisterError);
    expect(() => iommu.readRegister(0x410)).toThrow(VtdRegisterError);
    expect(() => iommu.writeRegister(VTD_REG.CAP, 0n)).toThrow(VtdRegisterError);
  });

  it("exportState counts translations, hits and misses", () => {
    const { machine, alloc, tables } = setup();
    const ss = new TableBuilder(machine, alloc, "second");
    ss.map(0, 0x10_0000, KiB4, { write: true });
    tables.attach(0x100);
    tables.setPasid(0x100, 0, {
      present: true,
      type: "second-stage",
      domainId: 1,
      secondStageTable: ss.root,
    });
    machine.iommu.translate(req(0x100, 0));
    machine.iommu.translate(req(0x100, 8));
    expect(machine.iommu.exportState().counters).toMatchObject({
      translations: 2,
      iotlbHits: 1,
      iotlbMisses: 1,
      contextMisses: 1,
      pasidMisses: 1,
      iotlbEntries: 1,
      faults: 0,
    });
  });
});

const page = fc.integer({ min: 0, max: 2 ** 34 - 1 }).map((n) => n * 4096);

describe("VT-d entry encoders and decoders", () => {
  it("round-trip every structure", () => {
    fc.assert(
      fc.property(
        page,
        page,
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 0xfffff }),
        (a, b, x, y, z, n) => {
          const [lo, hi] = encodeRootEntry({
            lowerContextTable: x ? a : undefined,
            upperContextTable: y ? b : undefined,
          });
          expect(decodeRootEntry(lo, hi)).toEqual({
            lowerContextTable: x ? a : undefined,
            upperContextTable: y ? b : undefined,
          });
          const ctx = {
            present: x,
            pasidDirectory: a,
            pasidDirectorySize: n % 8,
            ridPasid: n,
            pasidEnable: y,
            faultProcessingDisable: z,
          };
          const [c0, c1] = encodeContextEntry(ctx);
          expect(decodeContextEntry(c0, c1)).toEqual(ctx);
          const dir = { present: x, pasidTable: b, faultProcessingDisable: y };
          expect(decodePasidDirEntry(encodePasidDirEntry(dir))).toEqual(dir);
          const pe = encodePasidEntry({
            present: x,
            type: "nested",
            domainId: n & 0xffff,
            secondStageTable: a,
            firstStageTable: b,
          });
          expect(decodePasidEntry(pe[0]!, pe[1]!, pe[2]!)).toMatchObject({
            present: x,
            type: "nested",
            domainId: n & 0xffff,
            secondStageTable: a,
            firstStageTable: b,
            addressWidth: 2,
          });
          const ss = { address: a, read: x, write: y, largePage: z };
          expect(decodeSecondStageEntry(encodeSecondStageEntry(ss))).toEqual(ss);
          const fs = { address: b, present: x, writable: y, user: z, largePage: !z, executeDisable: x };
          expect(decodeFirstStageEntry(encodeFirstStageEntry(fs))).toEqual(fs);
        },
      ),
    );
  });

  it("pins bit positions (second-stage R/W/PS, PASID entry PGTT/AW/DID/FLPTPTR)", () => {
    expect(encodeSecondStageEntry({ address: 0x20_0000, read: true, write: true, largePage: true })).toBe(
      0x20_0083n,
    );
    const pe = encodePasidEntry({
      present: true,
      type: "second-stage",
      domainId: 0x1234,
      secondStageTable: 0x5000,
    });
    expect(pe[0]).toBe(0x5000n | (2n << 6n) | (2n << 2n) | 1n);
    expect(pe[1]).toBe(0x1234n);
    expect(pe.length).toBe(8);
  });

  it("refuses fields that do not fit", () => {
    expect(() => encodeSecondStageEntry({ address: 0x1001, read: true, write: false })).toThrow(
      VtdEncodeError,
    );
    expect(() => encodeSecondStageEntry({ address: 2 ** 46, read: true, write: false })).toThrow(
      VtdEncodeError,
    );
    expect(() => encodePasidEntry({ present: true, type: "second-stage", domainId: 1 })).toThrow(
      /secondStageTable/,
    );
    expect(() =>
      encodeContextEntry({
        present: true,
        pasidDirectory: 0,
        pasidDirectorySize: 8,
        ridPasid: 0,
        pasidEnable: false,
      }),
    ).toThrow(VtdEncodeError);
  });
});
