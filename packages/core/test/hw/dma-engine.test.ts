import { crc32 } from "node:zlib";
import {
  dmaEngineAbi as abi,
  DmaEngine,
  IDENTITY_DMA,
  type InterruptDelivery,
  Machine,
  MiB,
  pciRegs,
} from "@liveupdate/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PageMapRemapper, type Posted, RingDriver, readCompletion } from "./dma-fixtures.js";

const PAGE = 4096;

/** A machine with an engine behind a random 4 KiB IOVA map of `pages` data pages. */
function rig(seed: number, options: { bandwidth?: number; pageSize?: number; stress?: boolean } = {}) {
  const machine = new Machine({
    memory: 256 * MiB,
    manualClock: true,
    scheduler: { seed, stress: options.stress ?? false },
  });
  const engine = new DmaEngine(options.bandwidth === undefined ? {} : { bandwidth: options.bandwidth });
  machine.pci.attach(engine, "00:04.0");
  const remapper = new PageMapRemapper(options.pageSize ?? PAGE);
  machine.pci.setRemapper(remapper);
  const got: InterruptDelivery[] = [];
  machine.interrupts.wire(0x40, (d) => got.push(d));
  return { machine, engine, remapper, got };
}

describe("DMA engine", () => {
  it("copies and checksums through a random IOVA map; a test recomputes every CRC and record", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 30 }),
        fc.array(fc.record({ length: fc.integer({ min: 0, max: 20_000 }), crc: fc.boolean() }), {
          minLength: 1,
          maxLength: 12,
        }),
        (seed, jobs) => {
          const { machine, engine, remapper } = rig(seed);
          const rng = new (class {
            s = seed;
            next() {
              this.s = (Math.imul(this.s, 1103515245) + 12345) >>> 0;
              return this.s;
            }
          })();
          // Map IOVA pages to shuffled physical pages: ring, completions, then data.
          const physPages: number[] = [];
          for (let i = 0; i < 200; i++) physPages.push(16 * MiB + i * PAGE);
          for (let i = physPages.length - 1; i > 0; i--) {
            const j = rng.next() % (i + 1);
            [physPages[i], physPages[j]] = [physPages[j]!, physPages[i]!];
          }
          const iovaBase = 0x7f00_0000_0000;
          for (const [i, phys] of physPages.entries()) remapper.map(iovaBase + i * PAGE, phys);
          const driver = new RingDriver(engine, machine.memory, remapper.phys(iovaBase), iovaBase, 16);
          driver.start(machine);
          let cursor = iovaBase + 2 * PAGE; // page 1: completion records
          const posted: Posted[] = [];
          for (const [i, job] of jobs.entries()) {
            const src = cursor;
            const dst = cursor + job.length + 13;
            cursor = dst + job.length + 7;
            // The CPU writes the source bytes through its own view of the pages.
            for (let b = 0; b < job.length; b += 997) {
              machine.memory.writeU8(remapper.phys(src + b), (b * 31 + i) & 0xff);
            }
            const d = {
              src,
              dst,
              completion: iovaBase + PAGE + i * abi.COMPLETION_SIZE,
              length: job.length,
              opcode: job.crc ? abi.OP_COPY_CRC32 : abi.OP_COPY,
              flags: 0,
            };
            posted.push(d);
            driver.post(d);
          }
          driver.ring();
          machine.run(300_000); // at 4 B/ns: more than the ≤ 480 KB posted needs
          const readIova = (iova: number, n: number) => {
            const out = new Uint8Array(n);
            for (let b = 0; b < n; ) {
              const k = Math.min(n - b, PAGE - ((iova + b) % PAGE));
              out.set(machine.memory.read(remapper.phys(iova + b), k), b);
              b += k;
            }
            return out;
          };
          posted.forEach((d, i) => {
            const record = readCompletion(machine.memory, remapper.phys(d.completion));
            const source = readIova(d.src, d.length);
            expect(record).toEqual({
              status: abi.COMPLETION_STATUS.SUCCESS,
              fault: 0,
              crc: d.opcode === abi.OP_COPY_CRC32 ? crc32(source) : 0,
              bytes: d.length,
              sequence: i + 1,
            });
            expect(Buffer.compare(readIova(d.dst, d.length), source)).toBe(0); // toEqual on bytes is slow
          });
          expect(engine.registers().HEAD).toBe(jobs.length % 16);
          expect(engine.counters.dmaFaults).toBe(0);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("works at its bandwidth in machine time; a copy spans preemption points; progress per phase", () => {
    const { machine, engine, remapper } = rig(5, { bandwidth: 1e9, stress: true }); // 1 byte/ns
    for (let i = 0; i < 64; i++) remapper.map(i * PAGE, 32 * MiB + i * PAGE);
    const driver = new RingDriver(engine, machine.memory, 32 * MiB, 0, 4);
    driver.start(machine);
    driver.post({ src: 8 * PAGE, dst: 32 * PAGE, completion: PAGE, length: 100_000, opcode: 1, flags: 0 });
    driver.ring();
    machine.setUpdatePhase("brownout");
    machine.run(30_000);
    const brownout = engine.progress.bytes.brownout;
    expect(brownout).toBeGreaterThan(29_000);
    expect(brownout).toBeLessThanOrEqual(30_000);
    expect(readCompletion(machine.memory, 32 * MiB + PAGE).status).toBe(0); // still in flight
    expect(engine.registers().STATUS & abi.STATUS_BUSY).toBeTruthy();
    machine.setUpdatePhase("blackout");
    for (let i = 0; i < 2; i++) machine.preempt("luo:between-hooks"); // at most 2 x 10 µs
    expect(engine.progress.bytes.blackout).toBeGreaterThan(0);
    machine.setUpdatePhase("after");
    machine.run(100_000);
    const p = engine.progress;
    expect(p.bytes.brownout + p.bytes.blackout + p.bytes.after).toBe(100_000);
    expect(p.descriptors.after).toBe(1);
    expect(readCompletion(machine.memory, 32 * MiB + PAGE).status).toBe(abi.COMPLETION_STATUS.SUCCESS);
  });

  it("is deterministic by seed under the manual clock", () => {
    const once = (seed: number) => {
      const { machine, engine, remapper } = rig(seed, { bandwidth: 5e8 });
      for (let i = 0; i < 64; i++) remapper.map(i * PAGE, 32 * MiB + i * PAGE);
      const driver = new RingDriver(engine, machine.memory, 32 * MiB, 0, 8);
      driver.start(machine);
      for (let i = 0; i < 6; i++) {
        driver.post({
          src: 8 * PAGE,
          dst: (20 + i * 4) * PAGE,
          completion: PAGE + 16 * i,
          length: 9000,
          opcode: 1,
          flags: 1,
        });
      }
      driver.ring();
      const trace: number[] = [];
      for (let i = 0; i < 200; i++) {
        machine.preempt("luo:between-hooks");
        trace.push(engine.progress.bytes.before);
      }
      return trace;
    };
    expect(once(11)).toEqual(once(11));
    expect(once(11)).not.toEqual(once(12));
  });

  it("ends a descriptor with a fault status on a faulting source or destination, and carries on", () => {
    const { machine, engine, remapper } = rig(2, { stress: true });
    for (let i = 0; i < 16; i++) remapper.map(i * PAGE, 32 * MiB + i * PAGE);
    remapper.map(16 * PAGE, 32 * MiB + 16 * PAGE, false); // read-only page
    const driver = new RingDriver(engine, machine.memory, 32 * MiB, 0, 8);
    driver.start(machine);
    driver.post({ src: 15 * PAGE, dst: 4 * PAGE, completion: PAGE, length: 3 * PAGE, opcode: 1, flags: 0 }); // src runs off the map
    driver.post({
      src: 4 * PAGE,
      dst: 15 * PAGE,
      completion: PAGE + 16,
      length: 2 * PAGE,
      opcode: 0,
      flags: 0,
    }); // dst read-only
    driver.post({ src: 4 * PAGE, dst: 8 * PAGE, completion: PAGE + 32, length: 100, opcode: 7, flags: 0 }); // bad opcode
    driver.post({ src: 4 * PAGE, dst: 8 * PAGE, completion: PAGE + 48, length: 100, opcode: 0, flags: 0 });
    driver.ring();
    machine.run(1_000_000);
    const at = (i: number) => readCompletion(machine.memory, 32 * MiB + PAGE + 16 * i);
    const code = (f: string) => abi.FAULT_CODES.indexOf(f as never) + 1;
    expect(at(0)).toMatchObject({
      status: abi.COMPLETION_STATUS.SRC_FAULT,
      fault: code("page-not-present"),
      bytes: 2 * PAGE,
    });
    const src = machine.memory.read(32 * MiB + 15 * PAGE, 2 * PAGE);
    expect(at(0).crc).toBe(crc32(src));
    expect(at(1)).toMatchObject({
      status: abi.COMPLETION_STATUS.DST_FAULT,
      fault: code("write-to-read-only"),
      bytes: PAGE,
    });
    expect(at(2)).toMatchObject({ status: abi.COMPLETION_STATUS.BAD_DESCRIPTOR, bytes: 0 });
    expect(at(3)).toMatchObject({ status: abi.COMPLETION_STATUS.SUCCESS, sequence: 4 });
    expect(engine.progress.faulted.before).toBe(3);
    expect(engine.counters.dmaFaults).toBe(2);
  });

  it("halts on a descriptor fetch fault and on an invalid ring; enabling again clears the halt", () => {
    const { machine, engine, remapper } = rig(3, { stress: true });
    const driver = new RingDriver(engine, machine.memory, 32 * MiB, 0, 4);
    driver.start(machine);
    driver.tail = 1;
    driver.ring(); // the ring page is not mapped
    machine.idle();
    const status = engine.registers().STATUS;
    expect(status & abi.STATUS_HALTED).toBeTruthy();
    expect(status >>> 8).toBe(abi.FAULT_CODES.indexOf("page-not-present") + 1);
    engine.mmioWrite32(0, abi.REG.CONTROL, 0);
    engine.mmioWrite32(0, abi.REG.RING_SIZE, 3);
    engine.mmioWrite32(0, abi.REG.CONTROL, abi.CONTROL_ENABLE);
    expect(engine.registers().STATUS >>> 8).toBe(abi.HALT_BAD_RING);
    expect(engine.registers().CONTROL).toBe(0);
    remapper.map(0, 32 * MiB);
    engine.mmioWrite32(0, abi.REG.RING_SIZE, 4);
    engine.mmioWrite32(0, abi.REG.CONTROL, abi.CONTROL_ENABLE);
    expect(engine.registers().STATUS & abi.STATUS_HALTED).toBe(0);
    expect(engine.registers().ID).toBe(abi.DMA_ENGINE_MAGIC);
  });

  it("stalls with bus mastering off (blocked, counted, nothing moved) and resumes when it is on", () => {
    const { machine, engine, remapper } = rig(4, { stress: true });
    for (let i = 0; i < 16; i++) remapper.map(i * PAGE, 32 * MiB + i * PAGE);
    const driver = new RingDriver(engine, machine.memory, 32 * MiB, 0, 4);
    driver.start(machine);
    machine.memory.writeU32(32 * MiB + 4 * PAGE, 0x12345678);
    driver.post({ src: 4 * PAGE, dst: 8 * PAGE, completion: PAGE, length: 64, opcode: 1, flags: 0 });
    engine.configWrite(pciRegs.PCI_COMMAND, 2, pciRegs.PCI_COMMAND_MEMORY);
    driver.ring();
    machine.run(100_000);
    expect(engine.counters.dmaBlocked).toBeGreaterThan(0);
    expect(machine.memory.readU32(32 * MiB + 8 * PAGE)).toBe(0);
    expect(engine.registers().HEAD).toBe(0);
    engine.configWrite(pciRegs.PCI_COMMAND, 2, pciRegs.PCI_COMMAND_MEMORY | pciRegs.PCI_COMMAND_MASTER);
    machine.run(100_000);
    expect(machine.memory.readU32(32 * MiB + 8 * PAGE)).toBe(0x12345678);
    expect(engine.registers().HEAD).toBe(1);
  });

  it("raises MSI-X per flagged completion and per batch; FLR clears the engine", () => {
    const { machine, engine, remapper, got } = rig(6, { stress: true });
    for (let i = 0; i < 16; i++) remapper.map(i * PAGE, 32 * MiB + i * PAGE);
    const driver = new RingDriver(engine, machine.memory, 32 * MiB, 0, 16);
    driver.start(machine, 0x40, 4);
    for (let i = 0; i < 10; i++)
      driver.post({ src: 4 * PAGE, dst: 8 * PAGE, completion: PAGE, length: 8, opcode: 0, flags: 0 });
    driver.ring();
    machine.run(1_000_000);
    // Batches of 4: after 4, after 8, and when the ring drained at 10.
    expect(got.length).toBe(3);
    driver.post({
      src: 4 * PAGE,
      dst: 8 * PAGE,
      completion: PAGE,
      length: 8,
      opcode: 0,
      flags: abi.FLAG_INTERRUPT,
    });
    engine.mmioWrite32(0, abi.REG.IRQ_BATCH, 0);
    driver.ring();
    machine.run(1_000_000);
    expect(got.length).toBe(4);
    expect(engine.interruptCounters.snapshot()).toMatchObject({ raised: 4, delivered: 4, lost: 0 });
    expect(engine.registers().COMPLETED).toBe(11);
    engine.functionLevelReset();
    expect(engine.counters.resets).toBe(1);
    expect(engine.registers()).toMatchObject({ RING_SIZE: 0, HEAD: 0, TAIL: 0, CONTROL: 0, COMPLETED: 0 });
  });

  it("goes untranslated while the IOMMU's translation is disabled (counted), and through IDENTITY_DMA", () => {
    const machine = new Machine({ memory: 256 * MiB, manualClock: true, scheduler: { stress: true } });
    const engine = new DmaEngine({ bandwidth: Number.POSITIVE_INFINITY });
    machine.pci.attach(engine, "00:04.0");
    expect(machine.pci.remapper).toBe(machine.iommu);
    const driver = new RingDriver(engine, machine.memory, 32 * MiB, 32 * MiB, 2);
    driver.start(machine);
    machine.memory.fill(40 * MiB, 3 * MiB, 0x5a);
    driver.post({ src: 40 * MiB, dst: 48 * MiB, completion: 33 * MiB, length: 3 * MiB, opcode: 1, flags: 0 });
    driver.ring();
    machine.idle();
    expect(readCompletion(machine.memory, 33 * MiB)).toMatchObject({ status: 1, bytes: 3 * MiB });
    expect(Buffer.compare(machine.memory.read(48 * MiB, 3 * MiB), Buffer.alloc(3 * MiB, 0x5a))).toBe(0);
    expect(engine.counters.dmaUntranslated).toBe(engine.counters.dmaTranslations);
    machine.pci.setRemapper(IDENTITY_DMA);
    driver.post({
      src: 40 * MiB,
      dst: 52 * MiB,
      completion: 33 * MiB + 16,
      length: 4096,
      opcode: 0,
      flags: 0,
    });
    driver.ring();
    machine.idle();
    expect(readCompletion(machine.memory, 33 * MiB + 16)).toMatchObject({ status: 1, bytes: 4096 });
    expect(engine.counters.dmaUntranslated).toBe(engine.counters.dmaTranslations);
  });
});
