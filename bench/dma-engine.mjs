/**
 * DMA engine throughput through the VT-d IOMMU (issue 9, benchmark): the copy-and-checksum engine
 * copying a buffer through second-stage mappings with a warm IOTLB, against a plain
 * `PhysicalMemory.copy` of the same bytes in the same run. Targets: ≥ 0.5× with 2 MiB pages, ≥ 0.3×
 * with 4 KiB pages (for the copy opcode; copy + CRC32 is reported too, bounded by zlib's crc32).
 * Also the IOTLB-miss walk cost per translation (a miss vs a hit, per page size).
 *
 * Uses the built package (`npx tsc -b` first). Run: `node --expose-gc bench/dma-engine.mjs`
 * Options: `--size 64` (MiB per buffer), `--reps N` (default 15), `--json` (only the figures, as JSON on standard output).
 *
 * Method: one 4 GiB machine, manual clock; translation enabled with scalable-mode tables built by
 * the public encoders; the engine (bandwidth Infinity: host-bound) at 00:04.0 with a 256-entry ring
 * of 1 MiB descriptors covering the buffer. A warm-up pass fills the IOTLB (and backs the
 * sections); every round then runs the plain copy and the engine back to back in rotating order,
 * the engine's work being one `machine.idle()` (stress scheduler: it runs until the ring is empty).
 * Ratios are medians of per-round ratios. The copy is verified once (bytes and CRC).
 *
 * For scale, each round also times a plain `Uint8Array.set` of the same size between two host
 * buffers (the host's copy speed): `PhysicalMemory.copy` goes through a fresh intermediate buffer
 * per 2 MiB section, which makes it several times slower than one `set`.
 */
import { parseArgs } from "node:util";
import { crc32 } from "node:zlib";
import {
  dmaEngineAbi as abi,
  DmaEngine,
  encodeContextEntry,
  encodePasidDirEntry,
  encodePasidEntry,
  encodeRootEntry,
  encodeSecondStageEntry,
  GiB,
  Machine,
  MiB,
  msiMessage,
  pciRegs,
  tableIndex,
  writeQwords,
} from "../packages/core/dist/index.js";
import { benchOutput } from "./lib/output.mjs";
import { collectGarbage, gibPerSecond, loadAverage, median, ms, time } from "./lib/stats.mjs";

const { values: options } = parseArgs({
  options: {
    size: { type: "string", default: "64" },
    reps: { type: "string", default: "15" },
    json: { type: "boolean", default: false },
  },
});
const out = benchOutput(options);
const SIZE = Number(options.size) * MiB;
const REPS = Number(options.reps);
const DESCRIPTOR_BYTES = MiB;
const RING = 256;
const SRC_PHYS = 1 * GiB;
const DST_PHYS = 2 * GiB;
const SRC_IOVA = 0x10_0000_0000;
const DST_IOVA = 0x20_0000_0000;
const RING_IOVA = 0x30_0000_0000;
const TABLES = 64 * MiB; // table pages bump-allocated from here
const RING_PHYS = 512 * MiB;

/** A machine, tables mapping src/dst/ring with `pageSize` leaves, and a running engine. */
function setup(pageSize) {
  const machine = new Machine({ memory: "4G", manualClock: true, scheduler: { stress: true } });
  const memory = machine.memory;
  let next = TABLES;
  const alloc = () => {
    const p = next;
    next += 4096;
    memory.fill(p, 4096, 0);
    return p;
  };
  const engine = new DmaEngine({ bandwidth: Number.POSITIVE_INFINITY });
  machine.pci.attach(engine, "00:04.0");
  const rid = engine.requesterId;
  const root = alloc();
  const context = alloc();
  const pasidDir = alloc();
  const pasidTable = alloc();
  const ss = alloc();
  writeQwords(memory, root + (rid >> 8) * 16, encodeRootEntry({ lowerContextTable: context }));
  writeQwords(
    memory,
    context + (rid & 0x7f) * 32,
    encodeContextEntry({
      present: true,
      pasidDirectory: pasidDir,
      pasidDirectorySize: 0,
      ridPasid: 0,
      pasidEnable: true,
    }),
  );
  memory.writeU64(pasidDir, encodePasidDirEntry({ present: true, pasidTable }));
  writeQwords(
    memory,
    pasidTable,
    encodePasidEntry({ present: true, type: "second-stage", domainId: 1, secondStageTable: ss }),
  );
  const target = pageSize === 4096 ? 1 : 2;
  const map = (iova, phys, write) => {
    let table = ss;
    for (let level = 4; level > target; level--) {
      const slot = table + tableIndex(iova, level) * 8;
      const current = memory.readU64(slot);
      if (current === 0n) {
        const t = alloc();
        memory.writeU64(
          slot,
          encodeSecondStageEntry({ address: t, read: true, write: true, largePage: false }),
        );
        table = t;
      } else table = Number(current & 0x000f_ffff_ffff_f000n);
    }
    memory.writeU64(
      table + tableIndex(iova, target) * 8,
      encodeSecondStageEntry({ address: phys, read: true, write, largePage: target > 1 }),
    );
  };
  for (let off = 0; off < SIZE; off += pageSize) {
    map(SRC_IOVA + off, SRC_PHYS + off, false);
    map(DST_IOVA + off, DST_PHYS + off, true);
  }
  map(RING_IOVA, RING_PHYS, true); // 4 KiB or 2 MiB: the ring and its completions fit either way
  // 4 KiB leaves: ring (8 KiB) and completion records (2 KiB) take three pages.
  if (pageSize === 4096) for (const off of [4096, 8192]) map(RING_IOVA + off, RING_PHYS + off, true);
  machine.iommu.setRootTable(root);
  machine.iommu.enableTranslation();

  engine.configWrite(pciRegs.PCI_BASE_ADDRESS_0, 4, 0xfe00_0000);
  engine.configWrite(pciRegs.PCI_BASE_ADDRESS_0 + 8, 4, 0xfe01_0000);
  engine.configWrite(pciRegs.PCI_COMMAND, 2, pciRegs.PCI_COMMAND_MEMORY | pciRegs.PCI_COMMAND_MASTER);
  const ctl = pciRegs.MSIX_CAP_OFFSET + pciRegs.PCI_MSIX_FLAGS;
  engine.configWrite(ctl, 2, pciRegs.PCI_MSIX_FLAGS_ENABLE);
  const message = msiMessage(0x40);
  engine.mmioWrite32(2, 0, message.address);
  engine.mmioWrite32(2, 8, message.data);
  engine.mmioWrite32(2, 12, 0);
  let interrupts = 0;
  machine.interrupts.wire(0x40, () => interrupts++);
  engine.mmioWrite64(0, abi.REG.RING_BASE_LO, RING_IOVA);
  engine.mmioWrite32(0, abi.REG.RING_SIZE, RING);
  engine.mmioWrite32(0, abi.REG.CONTROL, abi.CONTROL_ENABLE);

  const data = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i += 64) data[i] = (i * 2654435761) >>> 24;
  memory.write(SRC_PHYS, data);
  memory.fill(DST_PHYS, SIZE, 0);
  let tail = 0;
  /**
   * Posts the whole buffer as 1 MiB descriptors (the last one interrupts), runs the engine and
   * returns the physical address of the first descriptor's completion record.
   */
  const pass = (opcode) => {
    const count = SIZE / DESCRIPTOR_BYTES;
    const first = RING_PHYS + RING * abi.DESCRIPTOR_SIZE + ((tail * abi.COMPLETION_SIZE) % 2048);
    for (let i = 0; i < count; i++) {
      const completion = RING_IOVA + RING * abi.DESCRIPTOR_SIZE + ((tail * abi.COMPLETION_SIZE) % 2048);
      const d = abi.encodeDescriptor({
        src: SRC_IOVA + i * DESCRIPTOR_BYTES,
        dst: DST_IOVA + i * DESCRIPTOR_BYTES,
        completion,
        length: DESCRIPTOR_BYTES,
        opcode,
        flags: i === count - 1 ? abi.FLAG_INTERRUPT : 0,
      });
      memory.write(RING_PHYS + tail * abi.DESCRIPTOR_SIZE, d);
      tail = (tail + 1) % RING;
    }
    engine.mmioWrite32(0, abi.REG.TAIL, tail);
    machine.idle();
    if (engine.registers().HEAD !== tail) throw new Error("engine did not drain the ring");
    return first;
  };
  return { machine, memory, engine, pass, data, interrupts: () => interrupts, rid };
}

/** Checks the copied bytes, and the first descriptor's completion record (and CRC) of a pass. */
function verify(rig, completionPhys, withCrc) {
  const copied = rig.memory.read(DST_PHYS, SIZE);
  if (Buffer.compare(copied, rig.data) !== 0) throw new Error("DMA copy differs from the source");
  const record = abi.decodeCompletion(rig.memory.read(completionPhys, abi.COMPLETION_SIZE));
  const crc = withCrc ? crc32(rig.data.subarray(0, DESCRIPTOR_BYTES)) : 0;
  if (
    record.status !== abi.COMPLETION_STATUS.SUCCESS ||
    record.crc !== crc ||
    record.bytes !== DESCRIPTOR_BYTES
  ) {
    throw new Error(`bad completion record ${JSON.stringify(record)}`);
  }
}

/** Translates every request (results dropped: only the time counts). */
function translateAll(iommu, requests) {
  for (const q of requests) iommu.translate(q);
}

/** Nanoseconds per translation: IOTLB misses (each a walk) and hits, over `count` distinct pages. */
function walkCost(rig, pageSize) {
  const iommu = rig.machine.iommu;
  const count = Math.min(4096, SIZE / pageSize);
  const request = (i) => ({
    requesterId: rig.rid,
    pasid: undefined,
    iova: SRC_IOVA + i * pageSize,
    write: false,
  });
  const requests = Array.from({ length: count }, (_, i) => request(i));
  const misses = [];
  const hits = [];
  for (let r = 0; r < 7; r++) {
    iommu.invalidate({ kind: "iotlb-global" });
    misses.push(time(() => translateAll(iommu, requests)));
    hits.push(time(() => translateAll(iommu, requests)));
  }
  return { missNs: (median(misses) * 1e6) / count, hitNs: (median(hits) * 1e6) / count };
}

out.environment();
out.log(`buffer ${SIZE / MiB} MiB in ${SIZE / DESCRIPTOR_BYTES} descriptors of 1 MiB; ${REPS} rounds`);
const results = [];
const progress = out.progress(2 * 2 * REPS + 2);
for (const pageSize of [2 * MiB, 4096]) {
  const rig = setup(pageSize);
  verify(rig, rig.pass(abi.OP_COPY_CRC32), true); // warm-up: IOTLB, sections
  const target = pageSize === 4096 ? 0.3 : 0.5;
  for (const [name, opcode] of [
    ["copy", abi.OP_COPY],
    ["copy+crc32", abi.OP_COPY_CRC32],
  ]) {
    verify(rig, rig.pass(opcode), opcode === abi.OP_COPY_CRC32);
    const plain = [];
    const engine = [];
    const ratios = [];
    const host = [];
    const hostRatios = [];
    const hostSrc = new Uint8Array(SIZE).fill(1);
    const hostDst = new Uint8Array(SIZE);
    for (let r = 0; r < REPS; r++) {
      progress.tick(`${pageSize === 4096 ? "4 KiB" : "2 MiB"} ${name} round ${r + 1}`);
      collectGarbage();
      let p;
      let e;
      if (r % 2 === 0) {
        p = time(() => rig.memory.copy(DST_PHYS, SRC_PHYS, SIZE));
        e = time(() => rig.pass(opcode));
      } else {
        e = time(() => rig.pass(opcode));
        p = time(() => rig.memory.copy(DST_PHYS, SRC_PHYS, SIZE));
      }
      const h = time(() => hostDst.set(hostSrc));
      plain.push(p);
      engine.push(e);
      ratios.push(p / e);
      host.push(h);
      hostRatios.push(h / e);
    }
    const ratio = median(ratios);
    const row = {
      pageSize: pageSize === 4096 ? "4 KiB" : "2 MiB",
      op: name,
      plainMs: median(plain),
      engineMs: median(engine),
      plainGiBs: SIZE / 2 ** 30 / (median(plain) / 1000),
      engineGiBs: SIZE / 2 ** 30 / (median(engine) / 1000),
      ratio,
      hostSetMs: median(host),
      engineToHostSet: median(hostRatios),
      target: name === "copy" ? target : undefined,
      pass: name === "copy" ? ratio >= target : undefined,
    };
    results.push(row);
    out.log(
      `${row.pageSize} ${name.padEnd(10)} plain ${ms(row.plainMs)} (${gibPerSecond(SIZE, row.plainMs)}) · engine ${ms(row.engineMs)} (${gibPerSecond(SIZE, row.engineMs)}) · ${ratio.toFixed(2)}× (vs Uint8Array.set ${ms(row.hostSetMs)}: ${row.engineToHostSet.toFixed(2)}×)${row.target === undefined ? "" : ` (target ≥ ${target}×: ${row.pass ? "PASS" : "FAIL"})`}`,
    );
  }
  progress.tick(`${pageSize === 4096 ? "4 KiB" : "2 MiB"} IOTLB-miss walk`);
  const cost = walkCost(rig, pageSize);
  const translations = rig.engine.counters.dmaTranslations;
  results.push({ pageSize: pageSize === 4096 ? "4 KiB" : "2 MiB", walk: cost, translations });
  out.log(
    `${pageSize === 4096 ? "4 KiB" : "2 MiB"} IOTLB miss (walk) ${cost.missNs.toFixed(0)} ns/translation · hit ${cost.hitNs.toFixed(0)} ns · walk cost ${(cost.missNs - cost.hitNs).toFixed(0)} ns`,
  );
}
progress.stop();
out.log(`load average at the end: ${loadAverage()}`);
out.figures({ size: SIZE, reps: REPS, results });
