import { LiveUpdateHarness } from "@liveupdate/core/testkit";
import { describe, expect, it } from "vitest";
import { DataExtentAudit, EXTENT_SIZE, type GuestmemFile, GuestmemfsDriver } from "../src/index.js";
import { buildV2, buildV2b, MEMORY } from "./helpers.js";

describe("DataExtentAudit", () => {
  it("counts exactly the bytes that changed in audited extents, written or never written", () => {
    const h = LiveUpdateHarness.boot({ from: buildV2, memory: MEMORY });
    const fs = h.driver(GuestmemfsDriver);
    const file = fs.create("vm", { size: 3 * EXTENT_SIZE });
    const m = fs.mmap(file);
    m.write(10, Uint8Array.of(1, 2, 3));
    const audit = DataExtentAudit.capture(h.machine.memory, file.runs);
    expect(audit.extents).toBe(3);
    expect(audit.bytesChanged(h.machine.memory)).toBe(0);
    m.write(11, Uint8Array.of(2, 9, 9)); // 2 of 3 bytes differ
    m.write(EXTENT_SIZE + 5, Uint8Array.of(7)); // a never-written extent gets backing
    expect(audit.bytesChanged(h.machine.memory)).toBe(3);
    h.machine.memory.fill(file.runs[0]!.phys + 2 * EXTENT_SIZE, EXTENT_SIZE, 0x6b);
    expect(audit.bytesChanged(h.machine.memory)).toBe(3 + EXTENT_SIZE);
  });

  it("sees the poison an update leaves in the extents of a file nobody preserved", () => {
    const h = LiveUpdateHarness.boot({ from: buildV2, to: buildV2b, memory: MEMORY });
    const fs = h.driver(GuestmemfsDriver);
    const kept = fs.create("kept", { size: EXTENT_SIZE });
    const lost = fs.create("lost", { size: 2 * EXTENT_SIZE });
    h.preserve(1, kept);
    const keptAudit = DataExtentAudit.capture(h.machine.memory, kept.runs);
    const lostAudit = DataExtentAudit.capture(h.machine.memory, lost.runs);
    const result = h.update();
    expect(result.restored<GuestmemFile>(1).runs).toEqual(kept.runs);
    expect(keptAudit.bytesChanged(h.machine.memory)).toBe(0);
    expect(lostAudit.bytesChanged(h.machine.memory)).toBe(2 * EXTENT_SIZE);
  });
});
