import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportMemoryImage } from "@liveupdate/core";
import { describe, expect, it } from "vitest";
import { GiB1, KiB4, MiB2, setup, TableBuilder } from "./fixtures.js";

const script = join(import.meta.dirname, "walk-image.py");

function hasPython(): boolean {
  try {
    execFileSync("python3", ["--version"]);
    return true;
  } catch {
    return false;
  }
}

describe("an outside tool walks the tables from a memory image and the exported state", () => {
  it.skipIf(!hasPython())(
    "an independent walker (walk-image.py) agrees with the hardware on every request",
    () => {
      const { machine, alloc, tables } = setup("2G");
      // Device 1: second stage with all three page sizes.
      const ss = new TableBuilder(machine, alloc, "second");
      ss.map(0x1000, 0x10_0000, KiB4, { write: true });
      ss.map(3 * MiB2, 0x4000_0000, MiB2, { write: false });
      ss.map(5 * GiB1, 2 * GiB1, GiB1, { write: true });
      tables.attach(0x0100);
      tables.setPasid(0x0100, 0, {
        present: true,
        type: "second-stage",
        domainId: 1,
        secondStageTable: ss.root,
      });
      // Device 2: first stage on PASID 4, nested on PASID 5 (guest RAM GPA [0, 64 MiB) at HPA 1 GiB).
      const fs = new TableBuilder(machine, alloc, "first");
      fs.map(0x7000, 0x12_3000, KiB4, { write: true });
      fs.map(7 * MiB2, 0x6000_0000, MiB2, { write: true });
      const guest = new TableBuilder(machine, alloc, "second");
      for (let gpa = 0; gpa < 64 * 1024 * 1024; gpa += MiB2)
        guest.map(gpa, GiB1 + gpa, MiB2, { write: true });
      let nextGuest = 32 * 1024 * 1024;
      const guestFs = new TableBuilder(
        machine,
        () => {
          nextGuest += KiB4;
          return nextGuest - KiB4;
        },
        "first",
        (gpa) => GiB1 + gpa,
      );
      guestFs.map(0x9000, 0x5000, KiB4, { write: true });
      guestFs.map(9 * MiB2, 4 * MiB2, MiB2, { write: true });
      tables.attach(0x0208, { ridPasid: 4 });
      tables.setPasid(0x0208, 4, {
        present: true,
        type: "first-stage",
        domainId: 2,
        firstStageTable: fs.root,
      });
      tables.setPasid(0x0208, 5, {
        present: true,
        type: "nested",
        domainId: 3,
        secondStageTable: guest.root,
        firstStageTable: guestFs.root,
      });

      const requests: Array<{ rid: number; pasid: number | null; iova: number }> = [];
      for (const iova of [0x1000, 0x1abc, 0x2000, 3 * MiB2 + 0x777, 5 * GiB1 + 0x1234_5678, 7 * GiB1]) {
        requests.push({ rid: 0x0100, pasid: null, iova });
      }
      for (const iova of [0x7000, 0x7fff, 7 * MiB2 + 0x10, 0x8000])
        requests.push({ rid: 0x0208, pasid: null, iova });
      for (const iova of [0x9000, 0x9abc, 9 * MiB2 + 0x1_2345, 0x1_0000])
        requests.push({ rid: 0x0208, pasid: 5, iova });
      requests.push({ rid: 0x0300, pasid: null, iova: 0x1000 });

      const dir = mkdtempSync(join(tmpdir(), "vtd-image-"));
      exportMemoryImage(machine.memory, join(dir, "memory.img"));
      writeFileSync(join(dir, "iommu.json"), JSON.stringify(machine.iommu.exportState()));
      const outside = JSON.parse(
        execFileSync("python3", [script, join(dir, "memory.img"), join(dir, "iommu.json")], {
          input: JSON.stringify(requests),
        }).toString(),
      );
      const hardware = requests.map((r) => {
        const t = machine.iommu.walk({
          requesterId: r.rid,
          pasid: r.pasid ?? undefined,
          iova: r.iova,
          write: false,
        });
        return t.ok ? t.phys : "fault";
      });
      expect(outside).toEqual(hardware);
      expect(hardware.filter((h) => h !== "fault").length).toBe(10);
    },
  );
});
