import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITABLE,
  IommufdExistsError,
  IommufdInvalidArgumentError,
  IommufdNotFoundError,
} from "../src/index.js";
import { boot, KiB4, MiB } from "./fixtures.js";

/** The IOVA window the property plays in: 16 MiB, 4096 pages. */
const WINDOW = 16 * MiB;
const PAGES = WINDOW / KiB4;

type Op =
  | { kind: "map"; page: number; pages: number; filePage: number; flags: number }
  | { kind: "unmap"; page: number; pages: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("map" as const),
    page: fc.integer({ min: 0, max: PAGES - 1 }),
    pages: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.constantFrom(512, 1024)),
    filePage: fc.oneof(fc.integer({ min: 0, max: 2048 }), fc.constantFrom(0, 512, 1024)),
    flags: fc.constantFrom(IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITABLE | IOMMU_IOAS_MAP_READABLE),
  }),
  fc.record({
    kind: fc.constant("unmap" as const),
    page: fc.integer({ min: 0, max: PAGES - 1 }),
    pages: fc.integer({ min: 1, max: 2048 }),
  }),
);

/** The reference model: the IOVA space as a list of areas (first page, pages, file page, writable). */
interface ModelArea {
  page: number;
  pages: number;
  filePage: number;
  writable: boolean;
}

describe("map/unmap against a reference model of the IOVA space", () => {
  it("every page translates (hardware walk and cached translation) as the model says, in both page sizes", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 30 }), (ops) => {
        const { h, gm, fd } = boot();
        const file = gm.create("ram", { size: 16 * MiB });
        const ctx = fd.open();
        const ioas = fd.ioasAlloc(ctx);
        const large = fd.hwptAlloc(ioas);
        const small = fd.hwptAlloc(ioas, { largePages: false });
        const devLarge = fd.bind(ctx, "00:04.0");
        const devSmall = fd.bind(ctx, "00:05.0");
        fd.attach(devLarge, large);
        fd.attach(devSmall, small, 7);
        const model: ModelArea[] = [];
        const iommu = h.machine.iommu;
        const check = (p: number): void => {
          if (p < 0) return;
          const area = model.find((a) => p >= a.page && p < a.page + a.pages);
          for (const [dev, pasid] of [
            [devLarge, undefined],
            [devSmall, 7],
          ] as const) {
            const req = { requesterId: dev.requesterId, pasid, iova: p * KiB4, write: true };
            const walked = iommu.walk(req);
            const cached = iommu.translate(req);
            const read = iommu.walk({ ...req, write: false });
            const phys =
              area === undefined ? undefined : file.locate((area.filePage + p - area.page) * KiB4).phys;
            const seen = [walked, cached, read].map((t) => (t.ok ? t.phys : t.reason));
            const want =
              area === undefined
                ? ["page-not-present", "page-not-present", "page-not-present"]
                : area.writable
                  ? [phys, phys, phys]
                  : ["write-to-read-only", "write-to-read-only", phys];
            // One cheap comparison per page; expect() only to report a difference.
            if (seen.some((v, i) => v !== want[i]))
              expect({ page: p, pasid, seen }).toEqual({ page: p, pasid, seen: want });
          }
        };
        for (const op of ops) {
          const end = op.page + op.pages;
          if (op.kind === "map") {
            const clash = model.some((a) => a.page < end && op.page < a.page + a.pages);
            const call = () =>
              fd.map(ioas, {
                iova: op.page * KiB4,
                file,
                offset: op.filePage * KiB4,
                length: op.pages * KiB4,
                flags: op.flags,
              });
            if (op.filePage + op.pages > 4096) expect(call).toThrow(IommufdInvalidArgumentError);
            else if (clash) expect(call).toThrow(IommufdExistsError);
            else {
              call();
              model.push({
                page: op.page,
                pages: op.pages,
                filePage: op.filePage,
                writable: op.flags !== IOMMU_IOAS_MAP_READABLE,
              });
            }
          } else {
            const hit = model.filter((a) => a.page < end && op.page < a.page + a.pages);
            const call = () => fd.unmap(ioas, op.page * KiB4, op.pages * KiB4);
            if (hit.length === 0) expect(call).toThrow(IommufdNotFoundError);
            else if (hit.some((a) => a.page < op.page || a.page + a.pages > end))
              expect(call).toThrow(IommufdInvalidArgumentError);
            else {
              expect(call()).toBe(hit.reduce((n, a) => n + a.pages * KiB4, 0));
              for (const a of hit) model.splice(model.indexOf(a), 1);
            }
          }
          // After each operation: the edges of every area, their neighbours and a spread of pages, through
          // both domains (a stale IOTLB entry shows in the cached translation).
          const probe = new Set<number>();
          for (const a of model)
            for (const p of [
              a.page - 1,
              a.page,
              a.page + (a.pages >> 1),
              a.page + a.pages - 1,
              a.page + a.pages,
            ])
              probe.add(p);
          for (let p = op.page % 61; p < PAGES; p += 61) probe.add(p);
          probe.add(op.page);
          probe.add(end - 1);
          for (const p of probe) check(p);
        }
        // At the end: every page of the window.
        for (let p = 0; p < PAGES; p++) check(p);
        // The small-page domain never holds a 2 MiB leaf.
        for (const a of model) expect(small.table.lookup(a.page * KiB4)?.size).toBe(KiB4);
      }),
      { numRuns: 10, seed: 11 },
    );
  });
});
