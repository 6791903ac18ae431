import { Prng } from "../common/prng.js";
import type { Machine } from "../hw/machine.js";
import { alignUp, MiB, PAGE_SIZE, type PhysAddr, type PhysRange } from "../hw/units.js";
import { type BootData, readSetupData, writeSetupData } from "./boot-data.js";
import { BuddyAllocator } from "./buddy.js";
import { DEFAULT_KERNEL_IMAGE_SIZE, type KernelBuild } from "./build.js";
import { type CarvedRegion, reserveCarveOuts } from "./carve-out.js";
import { KernelCmdline } from "./cmdline.js";
import { BadAllocationError, BootStageError, KernelGoneError, KexecNotLoadedError } from "./errors.js";
import { VirtualLayout } from "./layout.js";
import { Memblock } from "./memblock.js";
import { mergeRanges, overlapsAny, subtractRanges } from "./ranges.js";

/** Byte written over memory that nobody preserved when a kernel kexecs (Linux's `POISON_FREE`). */
export const POISON_BYTE = 0x6b;
/** Where x86 loads the kernel on a cold boot (`LOAD_PHYSICAL_ADDR`). */
const LOAD_PHYSICAL_ADDR = 16 * MiB;
/** Bytes of `struct page` per 4 KiB page: the memmap the kernel reserves at boot. */
const STRUCT_PAGE_SIZE = 64;
/** Alignment of large early reservations (a pageblock). */
const PAGEBLOCK_SIZE = 2 * MiB;

/** memblock label of memory the previous kernel preserved (reserved until restored). */
export const KHO_PRESERVED_LABEL = "kho-preserved";

/** A kernel's life: early boot (memblock only), running (page allocator up), gone (kexec'd away). */
export type KernelStage = "early" | "running" | "gone";

/** How to boot a {@link Kernel}. */
export interface KernelBootOptions {
  /** The build being booted. */
  readonly build: KernelBuild;
  /** Kernel command line, e.g. `"kho=on kho_scratch=200%"`. */
  readonly cmdline?: string;
  /** Boot data from the previous kernel, present on a kexec boot with a handover. */
  readonly bootData?: BootData;
  /** Seed for this boot's randomness (virtual layout); random when omitted. */
  readonly seed?: number;
  /**
   * Overwrite all memory that is neither preserved nor handover data with {@link POISON_BYTE} at
   * reboot (default true), so a forgotten preservation shows up as corruption.
   */
  readonly poisonOnReboot?: boolean;
}

/** What early-boot code may touch before the page allocator exists. */
export interface EarlyBootContext {
  /** The machine being booted. */
  readonly machine: Machine;
  /** The boot-time allocator. */
  readonly memblock: Memblock;
  /** The parsed command line. */
  readonly cmdline: KernelCmdline;
  /** Boot data from the previous kernel, if any. */
  readonly bootData: BootData | undefined;
  /** Ranges the page allocator must never hand out (e.g. KHO scratch areas, kept as CMA). */
  readonly keepOut: PhysRange[];
}

/**
 * Hooks that code above the kernel (KHO) runs during early boot, in the order upstream does:
 * `setupArch` before the kernel reserves its own memory (KHO confines memblock to scratch here),
 * `mmInit` after (KHO reserves scratch on a cold boot, or reserves preserved memory on a KHO boot).
 */
export interface EarlyBootHooks {
  /** Runs before the kernel image and memmap are reserved. */
  setupArch?(context: EarlyBootContext): void;
  /** Runs after, just before the page allocator starts. */
  mmInit?(context: EarlyBootContext): void;
}

/** What a subsystem contributes at reboot: memory to keep intact and boot data for the next kernel. */
export interface RebootContribution {
  /** Physical ranges that must survive (not poisoned). */
  readonly keep: readonly PhysRange[];
  /** Boot data to pass to the next kernel. */
  readonly bootData?: BootData;
}

/** A subsystem that participates in reboot (KHO, LUO). */
export interface RebootParticipant {
  /** Name used in messages. */
  readonly name: string;
  /**
   * Called first, on every participant in reverse registration order (later layers first, like a
   * reboot notifier chain), while the kernel is fully alive. LUO freezes here when a reboot comes
   * during brownout. Throwing aborts the reboot and leaves the kernel running.
   */
  beforeReboot?(): void;
  /** Called once after every `beforeReboot`, just before the kernel is torn down. */
  prepareReboot(): RebootContribution;
}

/** Everything that crosses a kexec: the machine, the next build and command line, and boot data. */
export interface KexecHandoff {
  /** The machine (its memory and devices). */
  readonly machine: Machine;
  /** The kexec-loaded build. */
  readonly build: KernelBuild;
  /** The next kernel's command line. */
  readonly cmdline: string;
  /**
   * Physical address of the `setup_data` node (type `SETUP_KEXEC_KHO`) the outgoing kernel wrote,
   * when a handover was finalized — what x86 links from `boot_params.hdr.setup_data`.
   */
  readonly setupData: PhysAddr | undefined;
  /**
   * The boot data, decoded from `setupData` in machine memory each time it is read (so it is
   * exactly what survived in memory, not a JavaScript object carried across the kexec).
   *
   * @throws {@link BootDataError} when the node in memory is malformed.
   */
  readonly bootData: BootData | undefined;
  /** Boot number of the kernel that rebooted. */
  readonly previousBootId: number;
  /** Bytes overwritten with poison (0 when poisoning is off). */
  readonly poisonedBytes: number;
}

const runningKernels = new WeakMap<Machine, Kernel>();
const bootCounters = new WeakMap<Machine, number>();

/**
 * The emulated kernel: boot, early and page allocation, virtual layout, kexec load and reboot.
 *
 * After {@link Kernel.reboot} every method throws {@link KernelGoneError}: only the machine and the
 * boot data reach the next kernel. Subsystems (KHO, LUO, drivers) call
 * {@link Kernel.assertAlive} on their own entry points to get the same guarantee.
 *
 * @example
 * ```ts
 * const machine = new Machine({ memory: "8G" });
 * const kernel = Kernel.boot(machine, { build: defineKernelBuild({ version: "6.16" }) });
 * const page = kernel.allocPages(0);
 * kernel.kexecLoad(defineKernelBuild({ version: "6.17" }));
 * const handoff = kernel.reboot();
 * ```
 */
export class Kernel {
  private readonly machineValue: Machine;
  /** The build that was booted. */
  readonly build: KernelBuild;
  /** The command line. */
  readonly cmdline: KernelCmdline;
  /** 1 for the first boot of a machine, then 2, 3, … across kexecs. */
  readonly bootId: number;
  /** This boot's randomised virtual layout. */
  readonly layout: VirtualLayout;
  /** The seed the boot used (for reproduction). */
  readonly seed: number;
  private readonly memblockValue: Memblock;
  /** Boot data this kernel was booted with. */
  readonly bootData: BootData | undefined;
  private stageValue: KernelStage = "early";
  private buddy: BuddyAllocator | undefined;
  private readonly keepOut: PhysRange[];
  private readonly poisonOnReboot: boolean;
  private readonly participants: RebootParticipant[] = [];
  private loaded: { build: KernelBuild; cmdline: string } | undefined;
  private panicReason: string | undefined;
  private carveOutList: readonly CarvedRegion[] = [];

  private constructor(machine: Machine, options: KernelBootOptions, hooks: EarlyBootHooks) {
    const running = runningKernels.get(machine);
    if (running !== undefined && running.stage !== "gone") {
      throw new BootStageError("booting a second kernel on a machine", `running boot #${running.bootId}`);
    }
    this.machineValue = machine;
    this.build = options.build;
    this.cmdline = new KernelCmdline(options.cmdline ?? "", options.build.cmdline ?? "");
    this.bootId = (bootCounters.get(machine) ?? 0) + 1;
    bootCounters.set(machine, this.bootId);
    this.seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
    this.layout = new VirtualLayout(new Prng(this.seed), machine.memoryMap.end());
    this.bootData = options.bootData;
    this.poisonOnReboot = options.poisonOnReboot ?? true;
    this.memblockValue = new Memblock(machine.memoryMap.ram());
    this.keepOut = [];
    runningKernels.set(machine, this);

    const context: EarlyBootContext = {
      machine,
      memblock: this.memblockValue,
      cmdline: this.cmdline,
      bootData: options.bootData,
      keepOut: this.keepOut,
    };
    try {
      hooks.setupArch?.(context);
      // Carve-outs are placed before anything else is allocated, from the memory map alone.
      const ram = machine.memoryMap.ram();
      this.carveOutList = reserveCarveOuts(
        this.build.carveOuts ?? [],
        this.cmdline,
        this.memblockValue,
        ram,
        this.keepOut,
      );
      machine.preempt("kernel:early-boot");
      this.reserveKernelMemory();
      hooks.mmInit?.(context);
      machine.preempt("kernel:mm-init");
    } catch (error) {
      // A boot that fails (e.g. on a corrupt handover) leaves no half-alive kernel behind.
      this.stageValue = "gone";
      throw error;
    }
    this.memblockValue.clearScratchOnly();
    const reservedOrKeptOut = [...this.memblockValue.reserved(), ...this.keepOut];
    this.buddy = new BuddyAllocator(subtractRanges(machine.memoryMap.ram(), reservedOrKeptOut));
    this.stageValue = "running";
  }

  /**
   * Boots a kernel on `machine`. `hooks` let KHO take part in early boot; most callers use the
   * KHO-aware `bootKernel` instead of calling this directly.
   *
   * @throws {@link BootStageError} when another kernel is still running on the machine.
   */
  static boot(machine: Machine, options: KernelBootOptions, hooks: EarlyBootHooks = {}): Kernel {
    return new Kernel(machine, options, hooks);
  }

  /**
   * The machine this kernel runs on. Throws {@link KernelGoneError} after reboot: the next kernel
   * gets the machine from the {@link KexecHandoff}, so nothing of the old kernel can reach memory.
   */
  get machine(): Machine {
    this.assertAlive("machine");
    return this.machineValue;
  }

  /** The boot-time allocator (its reservations stay visible after boot); gone after reboot. */
  get memblock(): Memblock {
    this.assertAlive("memblock");
    return this.memblockValue;
  }

  /** Current stage. */
  get stage(): KernelStage {
    return this.stageValue;
  }

  /** Throws {@link KernelGoneError} when this kernel has rebooted. `what` names the caller. */
  assertAlive(what: string): void {
    if (this.stageValue === "gone") throw new KernelGoneError(this.bootId, what);
  }

  /** The boot-time carve-out labelled `label`, if this boot placed one (see `CarveOutSpec`). */
  carveOut(label: string): CarvedRegion | undefined {
    this.assertAlive("carveOut");
    return this.carveOutList.find((c) => c.label === label);
  }

  /** Every carve-out this boot placed, in placement order. */
  get carveOuts(): readonly CarvedRegion[] {
    this.assertAlive("carveOuts");
    return this.carveOutList;
  }

  // ---- page allocator --------------------------------------------------------------------------

  /** Allocates `2^order` contiguous pages (mirrors `alloc_pages`); returns the physical address. */
  allocPages(order: number): PhysAddr {
    return this.pageAllocator("allocPages").alloc(order);
  }

  /** Frees pages from {@link Kernel.allocPages} or restored from a handover (mirrors `__free_pages`). */
  freePages(phys: PhysAddr, order: number): void {
    this.pageAllocator("freePages").free(phys, order);
  }

  /** Takes ownership of a block that was not managed by this kernel's allocator (a restored folio). */
  adoptPages(phys: PhysAddr, order: number): void {
    const buddy = this.pageAllocator("adoptPages");
    if (!this.memblockValue.isReservedAs(phys, PAGE_SIZE * (1 << order), KHO_PRESERVED_LABEL)) {
      throw new BadAllocationError("adopting memory the previous kernel did not preserve", phys);
    }
    buddy.adopt(phys, order);
  }

  /**
   * True when every page of the range is allocated (buddy) or reserved at boot (memblock).
   * Memory preserved by the previous kernel but not yet restored does not count: it belongs to
   * nobody until a driver restores it.
   */
  isInUse(phys: PhysAddr, size: number): boolean {
    this.assertAlive("isInUse");
    return (
      this.memblockValue.isReserved(phys, size, [KHO_PRESERVED_LABEL]) ||
      this.pageAllocator("isInUse").isAllocated(phys, size)
    );
  }

  /** Bytes the page allocator has free. */
  freeBytes(): number {
    return this.pageAllocator("freeBytes").freeBytes();
  }

  /** The page allocator itself, for inspection in tests. */
  get pages(): BuddyAllocator {
    return this.pageAllocator("pages");
  }

  // ---- kexec -----------------------------------------------------------------------------------

  /** Registers a subsystem that contributes kept memory and boot data at reboot. */
  addRebootParticipant(participant: RebootParticipant): void {
    this.assertAlive("addRebootParticipant");
    this.participants.push(participant);
  }

  /**
   * Stages the next kernel (mirrors `kexec_file_load`). Separate from preparing the handover and
   * from {@link Kernel.reboot}; may be called again to replace the staged build.
   */
  kexecLoad(build: KernelBuild, options: { cmdline?: string } = {}): void {
    this.assertAlive("kexecLoad");
    this.loaded = { build, cmdline: options.cmdline ?? this.cmdline.text };
  }

  /** Unloads a staged kernel (mirrors `kexec -u`). */
  kexecUnload(): void {
    this.assertAlive("kexecUnload");
    this.loaded = undefined;
  }

  /** The staged build, if any. */
  get kexecLoaded(): KernelBuild | undefined {
    return this.loaded?.build;
  }

  /**
   * Reboots into the kexec-loaded build. This kernel is gone afterwards. Memory that no participant
   * asked to keep is poisoned (unless disabled); reserved firmware regions are never touched.
   *
   * @throws {@link KexecNotLoadedError} when nothing is loaded.
   */
  reboot(): KexecHandoff {
    this.assertAlive("reboot");
    if (this.loaded === undefined) throw new KexecNotLoadedError(this.bootId);
    for (const participant of [...this.participants].reverse()) participant.beforeReboot?.();
    const keep: PhysRange[] = [];
    let bootData: BootData | undefined;
    for (const participant of this.participants) {
      const contribution = participant.prepareReboot();
      keep.push(...contribution.keep);
      bootData = contribution.bootData ?? bootData;
    }
    // Boot data travels in memory, as x86 setup_data in a kexec segment; only its address crosses.
    let setupData: PhysAddr | undefined;
    if (bootData !== undefined) {
      setupData = this.pageAllocator("reboot").alloc(0);
      writeSetupData(this.machineValue.memory, setupData, bootData);
      keep.push({ base: setupData, size: PAGE_SIZE });
    }
    this.stageValue = "gone";
    this.buddy = undefined;
    // The old kernel's interrupt handlers go with it; devices keep running (preemption points).
    this.machineValue.interrupts.unwireAll();
    this.machineValue.preempt("kernel:reboot-stopped");
    let poisonedBytes = 0;
    if (this.poisonOnReboot) {
      for (const range of subtractRanges(this.machineValue.memoryMap.ram(), mergeRanges(keep))) {
        this.machineValue.memory.fill(range.base, range.size, POISON_BYTE);
        poisonedBytes += range.size;
      }
    }
    this.machineValue.preempt("kernel:reboot-poisoned");
    const memory = this.machineValue.memory;
    return {
      machine: this.machineValue,
      build: this.loaded.build,
      cmdline: this.loaded.cmdline,
      setupData,
      get bootData() {
        return setupData === undefined ? undefined : readSetupData(memory, setupData);
      },
      previousBootId: this.bootId,
      poisonedBytes,
    };
  }

  /**
   * Halts this kernel after an unrecoverable error (mirrors `panic()`): it is gone, like after a
   * reboot, but hands nothing over. Only a cold boot of the machine follows. Returns the reason, so
   * callers can `throw` their typed error right after.
   */
  panic(reason: string): string {
    this.assertAlive("panic");
    this.stageValue = "gone";
    this.buddy = undefined;
    this.panicReason = reason;
    return reason;
  }

  /** Why this kernel panicked, if it did. */
  get panicked(): string | undefined {
    return this.panicReason;
  }

  // ---- internals -------------------------------------------------------------------------------

  private pageAllocator(what: string): BuddyAllocator {
    this.assertAlive(what);
    if (this.buddy === undefined) throw new BootStageError(what, this.stageValue);
    return this.buddy;
  }

  /** Reserves the kernel image and the memmap, as `setup_arch` and `mm_core_init` do. */
  private reserveKernelMemory(): void {
    const imageSize = alignUp(this.build.imageSize ?? DEFAULT_KERNEL_IMAGE_SIZE, PAGEBLOCK_SIZE);
    const memmapSize = alignUp(
      (this.machineValue.memoryMap.totalRam() / PAGE_SIZE) * STRUCT_PAGE_SIZE,
      PAGEBLOCK_SIZE,
    );
    if (this.memblockValue.isScratchOnly()) {
      // kexec placed the image inside scratch (kho_locate_mem_hole); KASLR picks within it.
      this.memblockValue.alloc(imageSize, PAGEBLOCK_SIZE, "kernel-image");
    } else if (
      this.machineValue.memoryMap.isRam(LOAD_PHYSICAL_ADDR, imageSize) &&
      !overlapsAny(LOAD_PHYSICAL_ADDR, imageSize, this.carveOutList)
    ) {
      this.memblockValue.reserve(LOAD_PHYSICAL_ADDR, imageSize, "kernel-image");
    } else {
      this.memblockValue.alloc(imageSize, PAGEBLOCK_SIZE, "kernel-image");
    }
    this.memblockValue.alloc(memmapSize, PAGEBLOCK_SIZE, "memmap");
  }
}
