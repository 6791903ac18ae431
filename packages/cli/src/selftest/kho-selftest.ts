import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import {
  bootKernel,
  FdtBuilder,
  type KhoKernel,
  kexecBoot,
  MAX_PAGE_ORDER,
  Machine,
  orderBytes,
  PAGE_SIZE,
  type PhysAddr,
  Prng,
  parseSize,
} from "@liveupdate/core";
import { hexa } from "../artifacts/files.js";
import { writeHandoverArtifacts } from "../artifacts/write.js";
import { SELFTEST_BUILDS } from "../builds/core-builds.js";
import type { ProgressEvent } from "../progress/progress.js";
import { SelftestVerificationError } from "./errors.js";

/** Options of {@link runKhoSelftest}. */
export interface KhoSelftestOptions {
  /** RAM of the emulated machine, e.g. `"4G"`. */
  readonly memory: string;
  /** Seed for folio orders, data, and the kernels' layouts. */
  readonly seed: number;
  /** Number of folios to preserve. */
  readonly folios: number;
  /** Highest folio order (0..10). */
  readonly maxOrder: number;
  /** Number of consecutive kexecs (each restores, verifies and re-preserves everything). */
  readonly kexecs: number;
  /** Poison non-preserved memory at reboot. */
  readonly poison: boolean;
  /** Directory for handover.dtb, memory.img, boot-data.json, hardware.json and preserved.json (first kexec). */
  readonly outDir?: string;
  /** Called before each step (fill, then per kexec: preserve, finalize, reboot, boot, restore + verify). */
  readonly onProgress?: (event: ProgressEvent) => void;
}

/** Timings (ms) and sizes of one kexec hop. */
export interface SelftestHop {
  /** Version booted into. */
  readonly into: string;
  /** ms to preserve every folio and publish the subtree. */
  readonly preserveMs: number;
  /** ms to finalize the handover. */
  readonly finalizeMs: number;
  /** ms for reboot (including poisoning). */
  readonly rebootMs: number;
  /** ms for the new kernel's boot (handover validation included). */
  readonly bootMs: number;
  /** ms to restore and verify every folio. */
  readonly restoreVerifyMs: number;
  /** Memory-map metadata bytes (bitmaps + chunks). */
  readonly metadataBytes: number;
  /** Bytes poisoned at reboot. */
  readonly poisonedBytes: number;
}

/** What {@link runKhoSelftest} measured. */
export interface KhoSelftestReport {
  /** Folios preserved. */
  readonly folios: number;
  /** Bytes preserved (data folios). */
  readonly preservedBytes: number;
  /** ms to allocate and fill the folios. */
  readonly fillMs: number;
  /** One entry per kexec. */
  readonly hops: readonly SelftestHop[];
  /** Files written with `outDir`. */
  readonly files: readonly string[];
}

interface TestFolio {
  readonly phys: PhysAddr;
  readonly order: number;
  readonly crc: number;
}

/** Progress steps of one kexec hop. */
const STEPS_PER_KEXEC = 5;

/** Subtree name and magic, as upstream's lib/test_kho.c. */
const SUBTREE = "kho_test";
const KHO_TEST_MAGIC = 0x4b484f21;

/**
 * The KHO self-test (in the spirit of upstream `lib/test_kho.c`): fill random folios of random
 * orders, preserve them with a subtree of their addresses and checksums, kexec, restore and
 * verify every byte — repeated over a chain of kexecs.
 *
 * @throws {@link SelftestVerificationError} when a folio's contents or the subtree do not survive.
 */
export function runKhoSelftest(options: KhoSelftestOptions): KhoSelftestReport {
  const rng = new Prng(options.seed);
  const builds = SELFTEST_BUILDS.builds;
  const machine = new Machine({ memory: parseSize(options.memory) });
  let booted: KhoKernel = bootKernel(machine, {
    build: builds[0]!,
    seed: rng.u32(),
    poisonOnReboot: options.poison,
  });
  const files: string[] = [];
  const total = 1 + STEPS_PER_KEXEC * options.kexecs;
  let done = 0;
  const step = (label: string): void => {
    options.onProgress?.({ done, total, step: label });
    done++;
  };

  step(`allocate and fill ${options.folios} folios`);
  let t = performance.now();
  const folios: TestFolio[] = [];
  for (let i = 0; i < options.folios; i++) {
    const order = rng.int(0, Math.min(options.maxOrder, MAX_PAGE_ORDER));
    const phys = booted.kernel.allocPages(order);
    const data = new Uint8Array(orderBytes(order));
    rng.fill(data);
    machine.memory.write(phys, data);
    folios.push({ phys, order, crc: crc32(data) });
  }
  const fillMs = performance.now() - t;

  const hops: SelftestHop[] = [];
  for (let hop = 0; hop < options.kexecs; hop++) {
    const { kernel, kho } = booted;
    const hopStep = (label: string) => step(`kexec ${hop + 1}/${options.kexecs}: ${label}`);
    hopStep("preserve");
    t = performance.now();
    for (const folio of folios) kho.preserveFolio(folio.phys, folio.order);
    kho.publishSubtree(SUBTREE, encodeSubtree(folios));
    const preserveMs = performance.now() - t;

    hopStep("finalize");
    t = performance.now();
    const report = kho.finalize();
    const finalizeMs = performance.now() - t;

    // The outgoing kernel's own list, taken while it is alive (its objects are gone after reboot).
    const preservedList =
      hop === 0 && options.outDir !== undefined ? [...kho.outgoing.preservedFolios()] : [];
    const next = builds[(hop + 1) % builds.length]!;
    kernel.kexecLoad(next);
    hopStep("reboot");
    t = performance.now();
    const handoff = kernel.reboot();
    const rebootMs = performance.now() - t;

    if (hop === 0 && options.outDir !== undefined) {
      files.push(...writeHandoverArtifacts(options.outDir, machine, handoff.bootData!));
      const preserved = join(options.outDir, "preserved.json");
      const list = preservedList.map((f) => ({ phys: hexa(f.phys), order: f.order }));
      writeFileSync(preserved, `${JSON.stringify(list, null, 1)}\n`);
      files.push(preserved);
    }

    hopStep("boot");
    t = performance.now();
    booted = kexecBoot(handoff, { seed: rng.u32(), poisonOnReboot: options.poison });
    const bootMs = performance.now() - t;

    hopStep("restore + verify");
    t = performance.now();
    restoreAndVerify(booted, folios);
    const restoreVerifyMs = performance.now() - t;

    hops.push({
      into: next.version,
      preserveMs,
      finalizeMs,
      rebootMs,
      bootMs,
      restoreVerifyMs,
      metadataBytes: report.metadataBytes,
      poisonedBytes: handoff.poisonedBytes,
    });
  }
  options.onProgress?.({ done, total, step: "done" });
  const preservedBytes = folios.reduce((sum, f) => sum + orderBytes(f.order), 0);
  return { folios: folios.length, preservedBytes, fillMs, hops, files };
}

function encodeSubtree(folios: readonly TestFolio[]): Uint8Array {
  const info = new Uint8Array(folios.length * 8);
  const csums = new Uint8Array(folios.length * 4);
  const infoView = new DataView(info.buffer);
  const csumView = new DataView(csums.buffer);
  folios.forEach((folio, i) => {
    // folios_info packs phys | order, as test_kho does (phys is page aligned, order < 4096).
    infoView.setBigUint64(i * 8, BigInt(folio.phys) | BigInt(folio.order), true);
    csumView.setUint32(i * 4, folio.crc, true);
  });
  return new FdtBuilder()
    .beginNode("")
    .propString("compatible", "kho-test-v1")
    .propU32("magic", KHO_TEST_MAGIC)
    .beginNode("data")
    .propU32("nr_folios", folios.length)
    .propBytes("folios_info", info)
    .propBytes("csum", csums)
    .endNode()
    .endNode()
    .finish();
}

function restoreAndVerify(booted: KhoKernel, expected: readonly TestFolio[]): void {
  const { kho, kernel } = booted;
  const subtree = kho.retrieveSubtree(SUBTREE);
  kho.restoreFolio(subtree.phys, 0);
  kernel.freePages(subtree.phys, 0);
  const root = subtree.tree.root;
  if (root.getU32("magic") !== KHO_TEST_MAGIC)
    throw new SelftestVerificationError("subtree magic", { subtree: SUBTREE });
  const data = root.getChild("data");
  const count = data.getU32("nr_folios");
  const info = data.getBytes("folios_info");
  const csums = data.getBytes("csum");
  if (count !== expected.length || info.length !== count * 8 || csums.length !== count * 4) {
    throw new SelftestVerificationError("subtree folio count", { expected: expected.length, found: count });
  }
  const infoView = new DataView(info.buffer, info.byteOffset, info.byteLength);
  const csumView = new DataView(csums.buffer, csums.byteOffset, csums.byteLength);
  for (let i = 0; i < count; i++) {
    const packed = infoView.getBigUint64(i * 8, true);
    const phys = Number(packed & ~BigInt(PAGE_SIZE - 1));
    const order = Number(packed & BigInt(PAGE_SIZE - 1));
    const want = expected[i]!;
    if (phys !== want.phys || order !== want.order || csumView.getUint32(i * 4, true) !== want.crc) {
      throw new SelftestVerificationError("subtree entry", { index: i, phys, order });
    }
    kho.restoreFolio(phys, order);
    const actual = crc32(kernel.machine.memory.read(phys, orderBytes(order)));
    if (actual !== want.crc) throw new SelftestVerificationError("folio contents", { index: i, phys, order });
  }
}
