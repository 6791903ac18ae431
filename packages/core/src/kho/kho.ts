import type { Machine } from "../hw/machine.js";
import { alignUp, PAGE_SIZE, type PhysAddr, type PhysRange } from "../hw/units.js";
import type { BootData } from "../kernel/boot-data.js";
import {
  type EarlyBootContext,
  type EarlyBootHooks,
  Kernel,
  type KernelBootOptions,
  type KexecHandoff,
  KHO_PRESERVED_LABEL,
} from "../kernel/kernel.js";
import { KhoNoHandoverError } from "./errors.js";
import type { FdtTree } from "./fdt/tree.js";
import {
  KhoIncoming,
  type RetrievedSubtree,
  readIncomingMemoryMap,
  readRootFdt,
  readScratchAreas,
} from "./incoming.js";
import type { IncomingMemoryMap } from "./memory-map-reader.js";
import { type KhoFinalizeReport, KhoOutgoing } from "./outgoing.js";
import { parseScratchPolicy, reserveScratch } from "./scratch.js";
import type { KhoVmallocDescriptor, VmallocArea } from "./vmalloc.js";

/** A booted kernel with its KHO instance. */
export interface KhoKernel {
  /** The kernel. */
  readonly kernel: Kernel;
  /** Its Kexec HandOver state. */
  readonly kho: Kho;
}

/** Options of {@link bootKernel}; `cmdline` defaults to `"kho=on"`. */
export type BootKernelOptions = KernelBootOptions;

/**
 * Kexec HandOver for one boot: the outgoing side (what this kernel preserves for the next one) and,
 * on a handover boot, the incoming side (what the previous kernel preserved). Method names mirror
 * upstream's `kho_*` API.
 *
 * @example
 * ```ts
 * const { kernel, kho } = bootKernel(machine, { build: v1 });
 * const folio = kernel.allocPages(9);
 * kho.preserveFolio(folio, 9);
 * kho.finalize();
 * kernel.kexecLoad(v2);
 * const next = kexecBoot(kernel.reboot());
 * next.kho.restoreFolio(folio, 9);
 * ```
 */
export class Kho {
  /** The outgoing side (always present; disabled without `kho=on`). */
  readonly outgoing: KhoOutgoing;
  /** The incoming side, on a handover boot. */
  readonly incoming: KhoIncoming | undefined;
  /** This boot's scratch areas (reused for every further kexec). */
  readonly scratch: readonly PhysRange[];
  /** Non-fatal findings during boot (e.g. the root FDT page was not preserved). */
  readonly warnings: readonly string[];

  /**
   * @param outgoing - outgoing side.
   * @param incoming - incoming side or undefined.
   * @param scratch - scratch areas.
   * @param warnings - boot findings.
   */
  constructor(
    outgoing: KhoOutgoing,
    incoming: KhoIncoming | undefined,
    scratch: readonly PhysRange[],
    warnings: string[],
  ) {
    this.outgoing = outgoing;
    this.incoming = incoming;
    this.scratch = scratch;
    this.warnings = warnings;
  }

  /** True when `kho=on`: this kernel can preserve memory for the next one. */
  get enabled(): boolean {
    return this.outgoing.enabled;
  }

  /** Mirrors `kho_preserve_folio`. See {@link KhoOutgoing.preserveFolio}. */
  preserveFolio(phys: PhysAddr, order: number): void {
    this.outgoing.preserveFolio(phys, order);
  }

  /** See {@link KhoOutgoing.unpreserveFolio}. */
  unpreserveFolio(phys: PhysAddr, order: number): void {
    this.outgoing.unpreserveFolio(phys, order);
  }

  /** Mirrors `kho_preserve_pages`. See {@link KhoOutgoing.preservePages}. */
  preservePages(phys: PhysAddr, nrPages: number): void {
    this.outgoing.preservePages(phys, nrPages);
  }

  /** Mirrors `kho_preserve_phys`. See {@link KhoOutgoing.preservePhys}. */
  preservePhys(phys: PhysAddr, size: number): void {
    this.outgoing.preservePhys(phys, size);
  }

  /** Mirrors `kho_preserve_vmalloc`. See {@link KhoOutgoing.preserveVmalloc}. */
  preserveVmalloc(
    blocks: readonly PhysAddr[],
    options?: { order?: number; flags?: number },
  ): KhoVmallocDescriptor & { bytes: Uint8Array } {
    return this.outgoing.preserveVmalloc(blocks, options);
  }

  /** Mirrors `kho_add_subtree`. See {@link KhoOutgoing.addSubtree}. */
  addSubtree(name: string, fdtPhys: PhysAddr): void {
    this.outgoing.addSubtree(name, fdtPhys);
  }

  /** See {@link KhoOutgoing.publishSubtree}. */
  publishSubtree(name: string, blob: Uint8Array): PhysAddr {
    return this.outgoing.publishSubtree(name, blob);
  }

  /** Mirrors `kho_finalize`. See {@link KhoOutgoing.finalize}. */
  finalize(): KhoFinalizeReport {
    return this.outgoing.finalize();
  }

  /** Mirrors `kho_abort`. See {@link KhoOutgoing.abort}. */
  abort(): void {
    this.outgoing.abort();
  }

  /** Mirrors `kho_restore_folio`. See {@link KhoIncoming.restoreFolio}. */
  restoreFolio(phys: PhysAddr, order: number): PhysAddr {
    return this.requireIncoming("restoreFolio").restoreFolio(phys, order);
  }

  /** Mirrors `kho_restore_pages`. See {@link KhoIncoming.restorePages}. */
  restorePages(phys: PhysAddr, nrPages: number): PhysAddr {
    return this.requireIncoming("restorePages").restorePages(phys, nrPages);
  }

  /** Mirrors `kho_restore_vmalloc`. See {@link KhoIncoming.restoreVmalloc}. */
  restoreVmalloc(descriptor: KhoVmallocDescriptor | Uint8Array): VmallocArea {
    return this.requireIncoming("restoreVmalloc").restoreVmalloc(descriptor);
  }

  /** Mirrors `kho_retrieve_subtree`. See {@link KhoIncoming.retrieveSubtree}. */
  retrieveSubtree(name: string): RetrievedSubtree {
    if (this.incoming === undefined) throw new KhoNoHandoverError(`retrieveSubtree("${name}")`);
    return this.incoming.retrieveSubtree(name);
  }

  private requireIncoming(operation: string): KhoIncoming {
    if (this.incoming === undefined) throw new KhoNoHandoverError(operation);
    return this.incoming;
  }
}

/**
 * Boots a kernel with KHO wired into early boot, as upstream does:
 * - on a handover boot (`bootData` given), confine memblock to the scratch areas, validate the root
 *   FDT and memory map, and reserve every preserved folio before the page allocator starts;
 * - on a cold boot with `kho=on`, reserve scratch areas sized by `kho_scratch=`.
 *
 * @throws {@link KhoCorruptHandoverError} when the handover is corrupt (upstream would disable
 *   revival and lose the preserved memory; the emulation fails loudly instead).
 */
export function bootKernel(machine: Machine, options: BootKernelOptions): KhoKernel {
  const state: {
    scratch: PhysRange[];
    scratchArray?: PhysAddr;
    root?: FdtTree;
    memoryMap?: IncomingMemoryMap;
  } = { scratch: [] };
  const enabled = (cmdline: EarlyBootContext["cmdline"]): boolean => cmdline.getBool("kho", false);
  const hooks: EarlyBootHooks = {
    setupArch(context) {
      const bootData = context.bootData;
      if (bootData === undefined) return;
      state.scratch = readScratchAreas(machine.memory, bootData);
      state.scratchArray = bootData.scratchAddr;
      context.memblock.setScratchOnly(state.scratch);
      context.memblock.reserve(
        bootData.scratchAddr,
        alignUp(bootData.scratchSize, PAGE_SIZE),
        "kho-scratch-array",
      );
      context.keepOut.push(...state.scratch);
      state.root = readRootFdt(machine.memory, bootData, state.scratch);
    },
    mmInit(context) {
      if (state.root !== undefined) {
        state.memoryMap = readIncomingMemoryMap(machine.memory, state.root, state.scratch);
        for (const range of state.memoryMap.ranges)
          context.memblock.reserve(range.base, range.size, KHO_PRESERVED_LABEL);
      } else if (enabled(context.cmdline)) {
        const policy = parseScratchPolicy(context.cmdline.get("kho_scratch"));
        const { areas, arrayPhys } = reserveScratch(policy, context.memblock, machine.memory);
        state.scratch = areas;
        state.scratchArray = arrayPhys;
        context.keepOut.push(...areas);
      }
    },
  };
  const kernel = Kernel.boot(machine, { ...options, cmdline: options.cmdline ?? "kho=on" }, hooks);
  const warnings: string[] = [];
  let incoming: KhoIncoming | undefined;
  if (state.root !== undefined && state.memoryMap !== undefined) {
    const fdtAddr = (options.bootData as BootData).fdtAddr;
    incoming = new KhoIncoming(kernel, state.root, state.memoryMap, fdtAddr);
    // kho_memory_init restores the root FDT folio; a missing preservation is only a warning upstream.
    if (incoming.preservedOrderAt(fdtAddr) === 0) incoming.restoreFolio(fdtAddr, 0);
    else warnings.push(`root FDT page ${fdtAddr} was not preserved as an order-0 folio`);
  }
  const outgoing = new KhoOutgoing(
    kernel,
    enabled(kernel.cmdline) && state.scratchArray !== undefined,
    state.scratch,
    state.scratchArray,
  );
  kernel.addRebootParticipant(outgoing);
  return { kernel, kho: new Kho(outgoing, incoming, state.scratch, warnings) };
}

/**
 * Boots the kexec-loaded kernel from a {@link KexecHandoff} (what `reboot()` returned): same
 * machine, the staged build and command line, and the boot data.
 */
export function kexecBoot(
  handoff: KexecHandoff,
  options: { seed?: number; poisonOnReboot?: boolean } = {},
): KhoKernel {
  return bootKernel(handoff.machine, {
    build: handoff.build,
    cmdline: handoff.cmdline,
    ...(handoff.bootData !== undefined ? { bootData: handoff.bootData } : {}),
    ...options,
  });
}
