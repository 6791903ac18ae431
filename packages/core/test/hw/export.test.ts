import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DmaEngine,
  exportHardwareState,
  exportHardwareStateFile,
  exportMemoryImage,
  type HardwareState,
} from "@liveupdate/core";
import { describe, expect, it } from "vitest";
import { RingDriver } from "./dma-fixtures.js";
import { setup, TableBuilder } from "./iommu/fixtures.js";

const ADDR = 0x000f_ffff_ffff_f000n; // bits 51:12

/**
 * An independent second-stage walk over a memory image and the exported JSON, written from the
 * VT-d specification's formats (scalable-mode root, context, PASID directory and table entries,
 * 4-level second stage with PS leaves) — it shares no code with the emulator.
 */
function walkImage(image: Buffer, state: HardwareState, bdf: string, iova: number): number | undefined {
  const q = (addr: bigint) => image.readBigUInt64LE(Number(addr));
  const fn = state.pci.find((f) => f.bdf === bdf)!;
  const bus = BigInt(fn.requesterId >> 8);
  const devfn = fn.requesterId & 0xff;
  expect(state.iommu.translationTableMode).toBe("scalable");
  const root = BigInt(state.iommu.rootTable);
  const rootEntry = q(root + bus * 16n + (devfn >= 128 ? 8n : 0n));
  if ((rootEntry & 1n) === 0n) return undefined;
  const context = (rootEntry & ADDR) + BigInt(devfn & 0x7f) * 32n;
  const ctx0 = q(context);
  const ridPasid = Number(q(context + 8n) & 0xfffffn);
  if ((ctx0 & 1n) === 0n) return undefined;
  const dirEntry = q((ctx0 & ADDR) + BigInt(ridPasid >> 6) * 8n);
  if ((dirEntry & 1n) === 0n) return undefined;
  const pasidEntry = (dirEntry & ADDR) + BigInt(ridPasid & 63) * 64n;
  const pe0 = q(pasidEntry);
  if ((pe0 & 1n) === 0n || Number((pe0 >> 6n) & 7n) !== 0b010) return undefined; // second stage only
  let table = pe0 & ADDR;
  for (let level = 4; level >= 1; level--) {
    const index = BigInt(Math.floor(iova / 2 ** (12 + 9 * (level - 1))) % 512);
    const entry = q(table + index * 8n);
    if ((entry & 3n) === 0n) return undefined;
    const leaf = level === 1 || (entry & 0x80n) !== 0n;
    if (leaf) {
      const span = 2 ** (12 + 9 * (level - 1));
      return Number(entry & ADDR & ~BigInt(span - 1)) + (iova % span);
    }
    table = entry & ADDR;
  }
  return undefined;
}

describe("exportHardwareState", () => {
  it("exports IOMMU registers and every function's BDF, config space and counters as JSON", () => {
    const { machine, alloc, tables } = setup("1G");
    const engine = new DmaEngine();
    machine.pci.attach(engine, "00:04.0");
    const ss = new TableBuilder(machine, alloc, "second");
    ss.map(0x4000_0000, 0x2000_0000, 2 * 1024 * 1024, { write: true });
    ss.map(0x8000_0000, 0x3000_0000, 4096, { write: true });
    tables.attach(engine.requesterId);
    tables.setPasid(engine.requesterId, 0, {
      present: true,
      type: "second-stage",
      domainId: 4,
      secondStageTable: ss.root,
    });
    const driver = new RingDriver(engine, machine.memory, 0x3000_0000, 0x8000_0000, 8);
    driver.start(machine);

    const dir = mkdtempSync(join(tmpdir(), "hw-export-"));
    exportMemoryImage(machine.memory, join(dir, "memory.img"));
    exportHardwareStateFile(machine, join(dir, "hardware.json"));
    const state = JSON.parse(readFileSync(join(dir, "hardware.json"), "utf8")) as HardwareState;
    expect(state).toEqual(JSON.parse(JSON.stringify(exportHardwareState(machine))));
    expect(state.format).toBe("liveupdate-hardware-v1");
    const fn = state.pci[0]!;
    expect(fn).toMatchObject({
      bdf: "0000:00:04.0",
      requesterId: 0x20,
      vendorId: 0x1b36,
      deviceId: 0xd0a0,
      command: { memorySpace: true, busMaster: true },
      counters: { resets: 0 },
      interrupts: { raised: 0, lost: 0 },
    });
    expect(fn.config.length).toBe(512);
    expect(fn.config.slice(0, 8)).toBe("361ba0d0"); // vendor 0x1b36, device 0xd0a0, little-endian
    expect(fn.bars[0]).toEqual({ index: 0, address: "0xfe000000", size: 4096 });
    expect(fn.msix).toEqual([{ address: "0xfee00000", data: 0x40, masked: false, pending: false }]);
    expect(fn.device).toMatchObject({ model: "dma-engine", registers: { RING_SIZE: 8, CONTROL: 1 } });
    expect(state.iommu.registers).toBeDefined();

    const image = readFileSync(join(dir, "memory.img"));
    expect(walkImage(image, state, "0000:00:04.0", 0x4000_0000 + 0x12345)).toBe(0x2000_0000 + 0x12345);
    expect(walkImage(image, state, "0000:00:04.0", 0x8000_0abc)).toBe(0x3000_0abc);
    expect(walkImage(image, state, "0000:00:04.0", 0x9000_0000)).toBeUndefined();
    for (const iova of [0x4000_0000 + 0x12345, 0x8000_0abc]) {
      const t = machine.iommu.translate({ requesterId: 0x20, pasid: undefined, iova, write: false });
      expect(t.ok && t.phys).toBe(walkImage(image, state, "0000:00:04.0", iova));
    }
  });
});
