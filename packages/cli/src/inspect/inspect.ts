import { fdtToDts, hex, readKhoHandover } from "@liveupdate/core";
import { type HandoverArtifacts, readHandoverArtifacts } from "../artifacts/read.js";
import { DEFAULT_INSPECT_REGISTRY } from "./default-registry.js";
import { type OrderSummary, type OwnerSummary, perOrder, perOwner } from "./owners.js";
import { problemOf } from "./problems.js";
import type { FolioClaim, InspectProblem, InspectRegistry, SubtreeContext } from "./registry.js";
import { stateSchemas } from "./schemas.js";

/** One KHO subtree of an inspected handover. */
export interface SubtreeReport {
  /** Subtree name (node of the root FDT). */
  readonly name: string;
  /** Physical address of its blob. */
  readonly phys: string;
  /** Blob `totalsize`. */
  readonly size: number;
  /** The blob root's `compatible`, when it has one. */
  readonly compatible?: string;
  /** Whether a registered decoder read it. */
  readonly decoded: boolean;
  /** What the decoder made of it (`--json`). */
  readonly detail?: unknown;
  /** What the decoder made of it (terminal). */
  readonly lines: readonly string[];
}

/** What `liveupdate inspect DIR` found. */
export interface HandoverReport {
  /** The directory. */
  readonly dir: string;
  /** Where the memory map came from. */
  readonly memoryMapSource: string;
  /** Boot data, addresses in hex. */
  readonly bootData: {
    readonly fdtAddr: string;
    readonly fdtSize: number;
    readonly scratchAddr: string;
    readonly scratchSize: number;
  };
  /** Scratch areas. */
  readonly scratch: readonly { readonly addr: string; readonly size: number }[];
  /** The root FDT as DTS source. */
  readonly rootDts: string;
  /** Chunk pages of the preserved-memory map. */
  readonly memoryMapChunks: readonly string[];
  /** Preserved bytes in total. */
  readonly preservedBytes: number;
  /** Preserved memory per folio order. */
  readonly perOrder: readonly OrderSummary[];
  /** Preserved memory per owner. */
  readonly perOwner: readonly OwnerSummary[];
  /** Subtrees in FDT order. */
  readonly subtrees: readonly SubtreeReport[];
  /** What could not be read (the command then exits 1). */
  readonly problems: readonly InspectProblem[];
}

/** Inspects artifacts already read (see {@link inspectHandover}). */
export function inspectArtifacts(
  artifacts: HandoverArtifacts,
  registry: InspectRegistry = DEFAULT_INSPECT_REGISTRY,
): HandoverReport {
  const { memory, bootData } = artifacts;
  const kho = readKhoHandover(memory, bootData);
  const problems: InspectProblem[] = [];
  const decoderClaims: FolioClaim[] = [];
  const blobClaims: FolioClaim[] = [];
  const schemas = stateSchemas(registry.builds);
  const subtrees = kho.subtrees.map((subtree): SubtreeReport => {
    blobClaims.push({
      phys: subtree.phys,
      size: subtree.bytes.length,
      owner: `subtree ${subtree.name} (blob)`,
    });
    const compatibleBytes = subtree.tree.root.findProperty("compatible");
    const compatible = compatibleBytes === undefined ? undefined : subtree.tree.root.getString("compatible");
    const base = {
      name: subtree.name,
      phys: hex(subtree.phys),
      size: subtree.bytes.length,
      ...(compatible === undefined ? {} : { compatible }),
    };
    const decoder = registry.subtrees.find((d) => d.compatible === compatible);
    if (decoder === undefined)
      return { ...base, decoded: false, lines: ["no decoder registered for this compatible"] };
    const ctx: SubtreeContext = { memory, bootData, kho, subtree, schemas, objects: registry.objects };
    try {
      const inspection = decoder.inspect(ctx);
      decoderClaims.push(...inspection.claims);
      problems.push(...inspection.problems);
      return { ...base, decoded: true, detail: inspection.json, lines: inspection.lines };
    } catch (error) {
      const problem = problemOf(`subtree ${subtree.name}`, error);
      problems.push(problem);
      return { ...base, decoded: false, lines: [`UNDECODABLE ${problem.code}: ${problem.message}`] };
    }
  });
  const rootClaim: FolioClaim = { phys: bootData.fdtAddr, size: bootData.fdtSize, owner: "kho root FDT" };
  if (artifacts.dtb !== undefined) {
    const inMemory = memory.read(bootData.fdtAddr, Math.min(artifacts.dtb.length, bootData.fdtSize));
    if (Buffer.compare(inMemory, artifacts.dtb) !== 0) {
      problems.push({
        where: "handover.dtb",
        code: "CLI_DTB_MISMATCH",
        message: "handover.dtb differs from the root FDT in memory.img at fdt_addr",
        context: { fdtAddr: bootData.fdtAddr },
      });
    }
  }
  return {
    dir: artifacts.dir,
    memoryMapSource: artifacts.memoryMapSource,
    bootData: {
      fdtAddr: hex(bootData.fdtAddr),
      fdtSize: bootData.fdtSize,
      scratchAddr: hex(bootData.scratchAddr),
      scratchSize: bootData.scratchSize,
    },
    scratch: kho.scratch.map((a) => ({ addr: hex(a.base), size: a.size })),
    rootDts: fdtToDts(kho.root),
    memoryMapChunks: kho.memoryMap.chunks.map((c) => hex(c)),
    preservedBytes: kho.memoryMap.preservedBytes,
    perOrder: perOrder(kho.memoryMap),
    perOwner: perOwner(kho.memoryMap, [...decoderClaims, ...blobClaims, rootClaim]),
    subtrees,
    problems,
  };
}

/**
 * Reads the handover `--out DIR` wrote and decodes it offline: KHO root, memory map (per order and
 * per owner), every subtree through the registry's decoders (LUO sessions, objects, FLBs, their
 * states through the shipped schemas).
 *
 * @throws `InspectInputError` (missing or malformed file), `HW_BAD_MEMORY_IMAGE`,
 *   `KhoCorruptHandoverError` / `KhoBadSubtreeError` (a corrupted handover, naming the structure,
 *   the field and the physical address — the file offset in `memory.img`).
 */
export function inspectHandover(
  dir: string,
  registry: InspectRegistry = DEFAULT_INSPECT_REGISTRY,
): HandoverReport {
  return inspectArtifacts(readHandoverArtifacts(dir), registry);
}
