import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GiB1, KiB4, MiB2, req, setup, TableBuilder } from "./fixtures.js";

const RID = 0x0100;

interface Mapping {
  readonly iova: number;
  readonly phys: number;
  readonly size: number;
  readonly write: boolean;
}

/** Random non-overlapping mappings of 4 KiB, 2 MiB and 1 GiB pages in a small corner of the space (shared tables). */
const mappingsArb = fc
  .array(
    fc.record({
      kind: fc.constantFrom(KiB4, MiB2, GiB1),
      l4: fc.integer({ min: 0, max: 1 }),
      l3: fc.integer({ min: 0, max: 3 }),
      l2: fc.integer({ min: 0, max: 7 }),
      l1: fc.integer({ min: 0, max: 15 }),
      frame: fc.integer({ min: 0, max: 2 ** 14 }),
      write: fc.boolean(),
    }),
    { minLength: 1, maxLength: 40 },
  )
  .map((raw) => {
    const out: Mapping[] = [];
    for (const r of raw) {
      let iova = r.l4 * 2 ** 39 + r.l3 * GiB1;
      if (r.kind <= MiB2) iova += r.l2 * MiB2;
      if (r.kind === KiB4) iova += r.l1 * KiB4;
      const overlaps = out.some((m) => iova < m.iova + m.size && m.iova < iova + r.kind);
      if (!overlaps) out.push({ iova, phys: r.frame * r.kind, size: r.kind, write: r.write });
    }
    return out;
  });

/** The reference model: the mapping containing `iova`. */
function lookup(mappings: readonly Mapping[], iova: number): Mapping | undefined {
  return mappings.find((m) => iova >= m.iova && iova < m.iova + m.size);
}

const probesArb = (mappings: readonly Mapping[]) =>
  fc.array(
    fc.oneof(
      fc
        .record({
          i: fc.nat(mappings.length - 1),
          off: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        })
        .map(({ i, off }) => mappings[i]!.iova + Math.floor(off * mappings[i]!.size)),
      fc.integer({ min: 0, max: 2 ** 40 - 1 }),
    ),
    { minLength: 1, maxLength: 30 },
  );

describe("VT-d second-stage walk against a reference model", () => {
  it("translates random IOVAs exactly like the map of 4 KiB / 2 MiB / 1 GiB pages", () => {
    fc.assert(
      fc.property(
        mappingsArb.chain((m) => fc.tuple(fc.constant(m), probesArb(m), fc.boolean())),
        ([mappings, probes, write]) => {
          const { machine, alloc, tables } = setup();
          const ss = new TableBuilder(machine, alloc, "second");
          for (const m of mappings) ss.map(m.iova, m.phys, m.size, { write: m.write });
          tables.attach(RID);
          tables.setPasid(RID, 0, {
            present: true,
            type: "second-stage",
            domainId: 7,
            secondStageTable: ss.root,
          });
          for (const iova of probes) {
            const expected = lookup(mappings, iova);
            for (const t of [
              machine.iommu.walk(req(RID, iova, write)),
              machine.iommu.translate(req(RID, iova, write)),
            ]) {
              if (expected === undefined) {
                expect(t).toEqual({ ok: false, reason: "page-not-present" });
              } else if (write && !expected.write) {
                expect(t).toEqual({ ok: false, reason: "write-to-read-only" });
              } else {
                const off = iova - expected.iova;
                expect(t).toEqual({
                  ok: true,
                  phys: expected.phys + off,
                  contiguous: expected.size - off,
                  untranslated: false,
                });
              }
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("VT-d nested translation against a reference model", () => {
  it("walks a guest first-stage table in guest-physical memory through the second stage", () => {
    // Guest RAM: GPA [0, 256 MiB) at HPA 512 MiB with 2 MiB second-stage pages, except GPA
    // [64 MiB, 68 MiB) mapped with 4 KiB pages (so leaves of both stages have mixed sizes).
    const guestHost = 512 * 1024 * 1024;
    const gpaToHpa = (gpa: number): number => guestHost + gpa;
    fc.assert(
      fc.property(
        mappingsArb.filter((m) => m.every((x) => x.size < GiB1)),
        fc.array(fc.integer({ min: 0, max: 2 ** 40 - 1 }), { maxLength: 10 }),
        fc.boolean(),
        (rawMappings, extraProbes, write) => {
          const { machine, alloc, tables } = setup("2G");
          const ss = new TableBuilder(machine, alloc, "second");
          for (let gpa = 0; gpa < 256 * 1024 * 1024; gpa += MiB2) {
            if (gpa >= 64 * 1024 * 1024 && gpa < 68 * 1024 * 1024) {
              for (let g = gpa; g < gpa + MiB2; g += KiB4) ss.map(g, gpaToHpa(g), KiB4, { write: true });
            } else {
              ss.map(gpa, gpaToHpa(gpa), MiB2, { write: true });
            }
          }
          // Guest page tables from GPA 200 MiB upwards; guest data pages below 128 MiB.
          let nextGuestPage = 200 * 1024 * 1024;
          const guestAlloc = (): number => {
            const p = nextGuestPage;
            nextGuestPage += KiB4;
            return p;
          };
          const fs = new TableBuilder(machine, guestAlloc, "first", gpaToHpa);
          const mappings = rawMappings.map((m) => ({ ...m, phys: m.phys % (128 * 1024 * 1024) }));
          for (const m of mappings) fs.map(m.iova, m.phys, m.size, { write: m.write });
          tables.attach(RID, { ridPasid: 5 });
          tables.setPasid(RID, 5, {
            present: true,
            type: "nested",
            domainId: 3,
            secondStageTable: ss.root,
            firstStageTable: fs.root,
          });
          const probes = [...mappings.map((m) => m.iova + Math.floor(m.size / 3)), ...extraProbes];
          for (const iova of probes) {
            const expected = lookup(mappings, iova);
            const t = machine.iommu.translate(req(RID, iova, write));
            if (expected === undefined) {
              expect(t).toEqual({ ok: false, reason: "page-not-present" });
            } else if (write && !expected.write) {
              expect(t).toEqual({ ok: false, reason: "write-to-read-only" });
            } else {
              const gpa = expected.phys + (iova - expected.iova);
              const ssSize = gpa >= 64 * 1024 * 1024 && gpa < 68 * 1024 * 1024 ? KiB4 : MiB2;
              const size = Math.min(expected.size, ssSize);
              expect(t).toEqual({
                ok: true,
                phys: gpaToHpa(gpa),
                contiguous: size - (iova % size),
                untranslated: false,
              });
            }
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it("first-stage-only tables are host-physical", () => {
    const { machine, alloc, tables } = setup();
    const fs = new TableBuilder(machine, alloc, "first");
    fs.map(0x4000_0000, 0x7000_0000, MiB2, { write: false });
    tables.attach(RID, { ridPasid: 1 });
    tables.setPasid(RID, 1, { present: true, type: "first-stage", domainId: 9, firstStageTable: fs.root });
    expect(machine.iommu.translate(req(RID, 0x4000_1234))).toEqual({
      ok: true,
      phys: 0x7000_1234,
      contiguous: MiB2 - 0x1234,
      untranslated: false,
    });
    expect(machine.iommu.translate(req(RID, 0x4000_1234, true))).toEqual({
      ok: false,
      reason: "write-to-read-only",
    });
    expect(machine.iommu.translate(req(RID, 2 ** 47))).toEqual({ ok: false, reason: "address-beyond-width" });
  });

  it("pass-through passes addresses as host-physical, but they are translated (not counted untranslated)", () => {
    const { machine, tables } = setup();
    tables.attach(RID);
    tables.setPasid(RID, 0, { present: true, type: "pass-through", domainId: 1 });
    expect(machine.iommu.translate(req(RID, 0x12_3456, true))).toEqual({
      ok: true,
      phys: 0x12_3456,
      contiguous: MiB2 - (0x12_3456 % MiB2),
      untranslated: false,
    });
    expect(machine.iommu.counters().untranslated).toBe(0);
  });
});
