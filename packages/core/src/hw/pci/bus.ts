import { type DmaRemapper, IDENTITY_DMA } from "../dma.js";
import type { InterruptController } from "../irq/controller.js";
import type { PhysicalMemory } from "../physical-memory.js";
import type { DeviceScheduler } from "../scheduler/scheduler.js";
import { checkedAddress, formatBdf, type PciAddress, parseBdf } from "./bdf.js";
import { PciAddressError } from "./errors.js";
import type { PciFunction } from "./function.js";

/** What a {@link PciBus} connects functions to. */
export interface PciBusInit {
  /** Physical memory (DMA targets). */
  readonly memory: PhysicalMemory;
  /** The interrupt controller MSI-X messages go to. */
  readonly interrupts: InterruptController;
  /** The scheduler attached functions run on. */
  readonly scheduler: DeviceScheduler;
}

/**
 * The machine's PCI segment 0: functions at stable bus:device.function addresses (they do not move
 * across kexec — the machine owns the bus). Each attached function is registered with the
 * machine's scheduler under its BDF and does DMA through the bus's remapper (the IOMMU once the
 * machine has one; {@link IDENTITY_DMA} before). MMIO by physical address is routed to the function
 * whose BAR decodes it.
 *
 * @example
 * ```ts
 * const engine = new DmaEngine();
 * machine.pci.attach(engine, "00:04.0");
 * engine.requesterId; // 0x0020
 * ```
 */
export class PciBus {
  private readonly functions = new Map<number, PciFunction>();
  private remapperValue: DmaRemapper = IDENTITY_DMA;

  /** @param init - memory, interrupt controller, scheduler. */
  constructor(private readonly init: PciBusInit) {}

  /** The DMA remapper in front of the bus. */
  get remapper(): DmaRemapper {
    return this.remapperValue;
  }

  /** Puts a remapper (the IOMMU) in front of the bus; later translations go through it. */
  setRemapper(remapper: DmaRemapper): void {
    this.remapperValue = remapper;
  }

  /**
   * Plugs `fn` in at `address` (`"00:04.0"` or an address object) and registers it with the
   * scheduler.
   *
   * @throws {@link PciAddressError} when the address is malformed or taken, or `fn` is attached.
   */
  attach(fn: PciFunction, address: string | PciAddress): void {
    const a = typeof address === "string" ? parseBdf(address) : checkedAddress(address);
    const key = (a.bus << 8) | (a.device << 3) | a.function;
    if (this.functions.has(key)) throw new PciAddressError(formatBdf(a), "already occupied");
    if (fn.isAttached) throw new PciAddressError(formatBdf(a), `${fn.name} is already attached`);
    fn.attach({
      address: a,
      memory: this.init.memory,
      interrupts: this.init.interrupts,
      remapper: () => this.remapperValue,
    });
    this.functions.set(key, fn);
    this.init.scheduler.register(fn);
  }

  /** The function at `address`, if any. */
  function(address: string | PciAddress): PciFunction | undefined {
    const a = typeof address === "string" ? parseBdf(address) : checkedAddress(address);
    return this.functions.get((a.bus << 8) | (a.device << 3) | a.function);
  }

  /** Every function, by requester id. */
  list(): PciFunction[] {
    return [...this.functions.entries()].sort((x, y) => x[0] - y[0]).map(([, fn]) => fn);
  }

  /**
   * The function and BAR that decode physical address `phys` (memory space enabled, BAR
   * programmed), or `undefined` (the access would master-abort).
   */
  decode(phys: number): { fn: PciFunction; bar: number; offset: number } | undefined {
    for (const fn of this.functions.values()) {
      if (!fn.memorySpaceEnabled) continue;
      for (const bar of fn.spec.bars) {
        const base = fn.barAddress(bar.index);
        if (base !== 0 && phys >= base && phys < base + bar.size) {
          return { fn, bar: bar.index, offset: phys - base };
        }
      }
    }
    return undefined;
  }

  /** MMIO read of a dword at physical address `phys`; all ones when nothing decodes it. */
  mmioRead32(phys: number): number {
    const hit = this.decode(phys);
    return hit === undefined ? 0xffff_ffff : hit.fn.mmioRead32(hit.bar, hit.offset);
  }

  /** MMIO write of a dword at physical address `phys`; dropped when nothing decodes it. */
  mmioWrite32(phys: number, value: number): void {
    const hit = this.decode(phys);
    if (hit !== undefined) hit.fn.mmioWrite32(hit.bar, hit.offset, value);
  }
}
