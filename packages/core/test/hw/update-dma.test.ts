import "reflect-metadata";
import { crc32 } from "node:zlib";
import {
  dmaEngineAbi as abi,
  bootLiveUpdateKernel,
  DmaEngine,
  type InterruptDelivery,
  kexecIntoNext,
  Machine,
  PREEMPTION_POINTS,
} from "@liveupdate/core";
import { container } from "tsyringe";
import { describe, expect, it } from "vitest";
import { buildA, buildB, Probe, populate } from "../luo/fixtures.js";
import { RingDriver, readCompletion } from "./dma-fixtures.js";
import { DeviceTables, TableBuilder } from "./iommu/fixtures.js";

const PAGE = 4096;
const MiB2 = 2 * 1024 * 1024;
const VECTOR = 0x40;
const SRC_IOVA = 0x10_0000_0000;
const DST_IOVA = 0x20_0000_0000;
const RING_IOVA = 0x30_0000_0000;

/**
 * A machine with a DMA engine behind the VT-d IOMMU, a kernel with LUO objects, and a 2 MiB copy
 * in flight through 4 KiB second-stage mappings (every page is a new walk). The tables, data and
 * ring are kernel pages preserved through KHO — all of them, or all but the leaf table of the
 * source.
 */
function rig(seed: number, preserveSourceLeafTable: boolean) {
  const machine = new Machine({ memory: "1G", manualClock: true, scheduler: { seed, stress: true } });
  const probe = new Probe();
  const parent = container.createChildContainer();
  parent.registerInstance(Probe, probe);
  const a = bootLiveUpdateKernel(machine, { build: buildA as never, seed: 1, container: parent });
  // The LUO fixtures are typed against src/, this file against the package: the same module at run time.
  populate(a as unknown as Parameters<typeof populate>[0]);
  const tablePages: number[] = [];
  const alloc = () => {
    const p = a.kernel.allocPages(0);
    machine.memory.fill(p, PAGE, 0);
    tablePages.push(p);
    return p;
  };
  const engine = new DmaEngine({ bandwidth: 2e8 }); // 0.2 B/ns: 2 MiB take ~10 ms of machine time
  machine.pci.attach(engine, "00:04.0");
  const rid = engine.requesterId;
  const tables = new DeviceTables(machine, alloc);
  const ss = new TableBuilder(machine, alloc, "second");
  tables.attach(rid);
  tables.setPasid(rid, 0, { present: true, type: "second-stage", domainId: 1, secondStageTable: ss.root });
  const src = a.kernel.allocPages(9);
  const dst = a.kernel.allocPages(9);
  const ring = a.kernel.allocPages(0);
  const before = tablePages.length;
  for (let off = 0; off < MiB2; off += PAGE) ss.map(SRC_IOVA + off, src + off, PAGE, { write: false });
  const sourceLeafTable = tablePages[tablePages.length - 1]!;
  expect(tablePages.length).toBeGreaterThan(before);
  for (let off = 0; off < MiB2; off += PAGE) ss.map(DST_IOVA + off, dst + off, PAGE, { write: true });
  ss.map(RING_IOVA, ring, PAGE, { write: true });
  machine.iommu.setRootTable(tables.root);
  machine.iommu.enableTranslation();
  for (const p of tablePages) if (preserveSourceLeafTable || p !== sourceLeafTable) a.kho.preserveFolio(p, 0);
  a.kho.preserveFolio(src, 9);
  a.kho.preserveFolio(dst, 9);
  a.kho.preserveFolio(ring, 0);
  const data = new Uint8Array(MiB2);
  for (let i = 0; i < data.length; i += 4) data[i] = (i * 2654435761) >>> 24;
  machine.memory.write(src, data);
  machine.memory.fill(ring, PAGE, 0);
  const driver = new RingDriver(engine, machine.memory, ring, RING_IOVA, 4);
  driver.start(machine, VECTOR);
  driver.post({
    src: SRC_IOVA,
    dst: DST_IOVA,
    completion: RING_IOVA + 0x800,
    length: MiB2,
    opcode: abi.OP_COPY_CRC32,
    flags: abi.FLAG_INTERRUPT,
  });
  const delivered: InterruptDelivery[] = [];
  machine.interrupts.wire(VECTOR, (d) => delivered.push(d));
  driver.ring();
  machine.run(100_000); // 100 µs before the update
  return { machine, a, engine, rid, data, dst, ring, delivered, parent };
}

describe("DMA through the IOMMU across a live update", () => {
  it("keeps copying through preserved tables in every phase; the interrupt latched in the blackout is delivered", () => {
    const { machine, a, engine, data, dst, ring, delivered } = rig(7, true);
    expect(engine.progress.bytes.before).toBeGreaterThan(0);
    const b = kexecIntoNext(a, { build: buildB as never, seed: 2 });
    expect(machine.updatePhase).toBe("blackout");
    const p = engine.progress;
    expect(p.bytes.brownout).toBeGreaterThan(0);
    expect(p.bytes.blackout).toBeGreaterThan(0);
    machine.run(20_000_000); // the VMM idles: the copy finishes while the vector is unwired
    expect(readCompletion(machine.memory, ring + 0x800).status).toBe(abi.COMPLETION_STATUS.SUCCESS);
    expect(delivered).toEqual([]);
    expect(engine.interruptCounters.pending).toBe(1);
    b.machine.interrupts.wire(VECTOR, (d) => delivered.push(d)); // the new kernel's driver
    expect(delivered).toMatchObject([{ vector: VECTOR, late: true }]);
    b.luo.markResumed();
    expect(machine.updatePhase).toBe("after");
    b.luo.finish();

    const record = readCompletion(machine.memory, ring + 0x800);
    expect(record).toMatchObject({ status: 1, fault: 0, bytes: MiB2, crc: crc32(data), sequence: 1 });
    expect(Buffer.compare(machine.memory.read(dst, MiB2), data)).toBe(0);
    expect(p.bytes.before + p.bytes.brownout + p.bytes.blackout + p.bytes.after).toBe(MiB2);
    expect(engine.counters.resets).toBe(0);
    expect(engine.counters.dmaFaults).toBe(0);
    expect(engine.counters.dmaUntranslated).toBe(0);
    expect(engine.interruptCounters.snapshot()).toMatchObject({
      raised: 1,
      delivered: 1,
      pending: 0,
      lost: 0,
    });
    const reached = machine.scheduler.preemptions();
    for (const point of PREEMPTION_POINTS.filter((q) => q !== "vmm:idle")) {
      expect(reached[point], point).toBeGreaterThan(0);
    }
  });

  it("faults when a page-table page that was not preserved is poisoned under the running device", () => {
    const { machine, a, engine, rid, ring } = rig(7, false);
    kexecIntoNext(a, { build: buildB as never, seed: 2 });
    machine.run(20_000_000);
    const record = readCompletion(machine.memory, ring + 0x800);
    expect(record.status).toBe(abi.COMPLETION_STATUS.SRC_FAULT);
    expect(record.fault).not.toBe(0);
    expect(record.bytes).toBeLessThan(MiB2);
    expect(record.bytes % PAGE).toBe(0); // it stopped at a page whose translation read poison
    expect(engine.progress.faulted.blackout).toBe(1);
    expect(machine.iommu.faults.records().some((f) => f.requesterId === rid)).toBe(true);
  });

  it("counts a cancelled update's brownout, then before again", () => {
    const { machine, a, engine } = rig(5, true);
    a.kernel.kexecLoad(buildB as never);
    a.luo.prepare();
    expect(machine.updatePhase).toBe("brownout");
    machine.run(50_000);
    a.luo.cancel("changed our mind");
    expect(machine.updatePhase).toBe("before");
    const brownout = engine.progress.bytes.brownout;
    expect(brownout).toBeGreaterThan(0);
    machine.run(50_000);
    expect(engine.progress.bytes.brownout).toBe(brownout);
    expect(engine.progress.bytes.blackout).toBe(0);
  });

  it("is deterministic by seed across the whole update", () => {
    const run = (seed: number) => {
      const { machine, a, engine } = rig(seed, true);
      kexecIntoNext(a, { build: buildB as never, seed: 2 });
      return { ...engine.progress.bytes, now: machine.clock.now() };
    };
    expect(run(3)).toEqual(run(3));
    expect(run(3)).not.toEqual(run(4));
  });
});
