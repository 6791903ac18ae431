/**
 * The IOMMU concepts page's example: build scalable-mode tables for one device with the public
 * encoders, turn translation on, translate, and see a forgotten invalidation.
 * Type-checked by `npm test` and run by packages/core/test/docs/iommu-example.test.ts.
 */
import {
  encodeContextEntry,
  encodePasidDirEntry,
  encodePasidEntry,
  encodeRootEntry,
  encodeSecondStageEntry,
  Machine,
  tableIndex,
  writeQwords,
} from "@liveupdate/core";

export function iommuExample(): { phys: number; stale: number; fresh: number } {
  const machine = new Machine({ memory: "4G" });
  const m = machine.memory;
  const [root, context, dir, pasidTable, pml4, pdpt, pd] = [0, 1, 2, 3, 4, 5, 6].map(
    (i) => 0x100_0000 + i * 4096,
  );
  const rid = 0x0100; // 01:00.0

  writeQwords(
    m,
    root + (rid >> 8) * 16,
    encodeRootEntry({ lowerContextTable: context, upperContextTable: undefined }),
  );
  writeQwords(
    m,
    context + (rid & 0x7f) * 32,
    encodeContextEntry({
      present: true,
      pasidDirectory: dir,
      pasidDirectorySize: 0,
      ridPasid: 0,
      pasidEnable: true,
    }),
  );
  m.writeU64(dir, encodePasidDirEntry({ present: true, pasidTable }));
  writeQwords(
    m,
    pasidTable,
    encodePasidEntry({ present: true, type: "second-stage", domainId: 1, secondStageTable: pml4 }),
  );

  // IOVA 1 GiB + 2 MiB → a 2 MiB page at 512 MiB.
  const iova = 0x4020_0000;
  const table = (level: number) => tableIndex(iova, level) * 8;
  m.writeU64(pml4 + table(4), encodeSecondStageEntry({ address: pdpt, read: true, write: true }));
  m.writeU64(pdpt + table(3), encodeSecondStageEntry({ address: pd, read: true, write: true }));
  m.writeU64(
    pd + table(2),
    encodeSecondStageEntry({ address: 0x2000_0000, read: true, write: true, largePage: true }),
  );

  machine.iommu.setRootTable(root);
  machine.iommu.enableTranslation();
  const request = { requesterId: rid, pasid: undefined, iova: iova + 0x123, write: true };
  const first = machine.iommu.translate(request);

  // Remap the page without invalidating: the IOTLB keeps the old translation…
  m.writeU64(
    pd + table(2),
    encodeSecondStageEntry({ address: 0x3000_0000, read: true, write: true, largePage: true }),
  );
  const stale = machine.iommu.translate(request);
  // …until the driver invalidates the range (AM = 9: 512 pages of 4 KiB).
  machine.iommu.invalidate({ kind: "iotlb-page", domainId: 1, address: iova, addressMask: 9 });
  const fresh = machine.iommu.translate(request);

  const phys = (t: typeof first): number => (t.ok ? t.phys : -1);
  return { phys: phys(first), stale: phys(stale), fresh: phys(fresh) };
}
