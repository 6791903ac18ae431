import { type BootData, GiB, type KernelBuild, type Machine, parseSize } from "@liveupdate/core";
import { VMM_BUILD_A, VMM_BUILD_B, VMM_BUILDS } from "../builds/vmm-builds.js";
import { DemoOptionsError } from "../errors.js";
import type { ProgressEvent } from "../progress/progress.js";

/** Hooks `--fail-at` can make fail: the old kernel's, so the update is cancelled. */
export const FAIL_AT_HOOKS = Object.freeze(["prepare", "serialize", "freeze"] as const);

/** The reference scenario's settings (every option of `liveupdate demo`). */
export interface DemoOptions {
  /** Seed of the machine's scheduler, the kernels and the guests' data (default 1). */
  readonly seed?: number;
  /** VMs (default 3); the last one has a vIOMMU. */
  readonly vms?: number;
  /** Host RAM (default `64G`). */
  readonly memory?: string | number;
  /** RAM per VM (default `8G`). */
  readonly vmMemory?: string | number;
  /** Build to boot first (default {@link VMM_BUILD_A}). */
  readonly from?: string;
  /** Build to update to (default {@link VMM_BUILD_B}); a chain alternates between the two. */
  readonly to?: string;
  /** Consecutive updates (default 1). */
  readonly updates?: number;
  /** `<hook>` or `<hook>:<driver>`: that hook of the old kernel fails (a drill): the update is cancelled. */
  readonly failAt?: string;
  /** Turns of the VMM's loop in each brownout (default 4). */
  readonly brownoutTurns?: number;
  /** DMA engine bandwidth, bytes per second of machine time (default 256e6). */
  readonly bandwidth?: number;
  /**
   * When objects are serialized (`LuoOptions.serializeAt` of every kernel of the run): `prepare`
   * (default; only what changed in brownout is serialized again at freeze) or `freeze` (strict:
   * everything inside the blackout).
   */
  readonly serializeAt?: "prepare" | "freeze";
  /** Called as the run goes. */
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Called after the old kernel of the last update stopped, before the new one boots (artifacts). */
  readonly onHandoff?: (machine: Machine, bootData: BootData) => void;
}

/** The options with defaults applied and checked (sizes in bytes, builds resolved). */
export interface ResolvedDemoOptions {
  /** Seed. */
  readonly seed: number;
  /** VMs. */
  readonly vms: number;
  /** Host RAM. */
  readonly memoryBytes: number;
  /** RAM per VM. */
  readonly vmMemoryBytes: number;
  /** First build. */
  readonly from: KernelBuild;
  /** Target build. */
  readonly to: KernelBuild;
  /** Consecutive updates. */
  readonly updates: number;
  /** The injected fault, if any. */
  readonly fault: { readonly hook: string; readonly driver?: string } | undefined;
  /** VMM loop turns per brownout. */
  readonly brownoutTurns: number;
  /** DMA engine bandwidth. */
  readonly bandwidth: number;
  /** Serialization point of every kernel. */
  readonly serializeAt: "prepare" | "freeze";
}

/** Most VMs: one device each at 00:04.0 … 00:1f.0. */
export const MAX_DEMO_VMS = 28;
/**
 * RAM the host kernel keeps for itself besides the VMs' guestmemfs region: 2 GiB plus a twelfth
 * of the machine (the KHO scratch areas scale with the kernel's memory map, which scales with RAM).
 */
export function hostReserve(memoryBytes: number): number {
  return 2 * GiB + Math.ceil(memoryBytes / 12);
}

/**
 * Applies the defaults and checks every option.
 *
 * @throws {@link DemoOptionsError} naming the option.
 */
export function resolveDemoOptions(o: DemoOptions): ResolvedDemoOptions {
  const size = (option: string, value: string | number) => {
    try {
      return typeof value === "number" ? value : parseSize(value);
    } catch (error) {
      throw new DemoOptionsError(option, error instanceof Error ? error.message : String(error), { value });
    }
  };
  const build = (option: string, version: string): KernelBuild => {
    const b = VMM_BUILDS.builds.find((x) => x.version === version);
    if (b === undefined)
      throw new DemoOptionsError(option, `unknown build ${version}`, {
        known: VMM_BUILDS.builds.map((x) => x.version),
      });
    return b;
  };
  const int = (option: string, value: number, min: number, max: number): number => {
    if (!Number.isInteger(value) || value < min || value > max)
      throw new DemoOptionsError(option, `expected an integer in ${min}..${max}`, { value });
    return value;
  };
  const vms = int("--vms", o.vms ?? 3, 1, MAX_DEMO_VMS);
  const memoryBytes = size("--memory", o.memory ?? "64G");
  const vmMemoryBytes = size("--vm-memory", o.vmMemory ?? "8G");
  if (vmMemoryBytes < 64 * 2 ** 20 || vmMemoryBytes % (2 * 2 ** 20) !== 0)
    throw new DemoOptionsError("--vm-memory", "must be a multiple of 2 MiB of at least 64 MiB", {
      vmMemoryBytes,
    });
  if (vms * vmMemoryBytes + hostReserve(memoryBytes) > memoryBytes)
    throw new DemoOptionsError(
      "--memory",
      `${vms} VMs of ${vmMemoryBytes} bytes and ${hostReserve(memoryBytes)} bytes for the host kernel do not fit`,
      {
        memoryBytes,
        vms,
        vmMemoryBytes,
      },
    );
  let fault: ResolvedDemoOptions["fault"];
  if (o.failAt !== undefined) {
    const [hook, driver] = o.failAt.split(":");
    if (!(FAIL_AT_HOOKS as readonly string[]).includes(hook ?? ""))
      throw new DemoOptionsError(
        "--fail-at",
        `expected one of ${FAIL_AT_HOOKS.join(", ")} (optionally :<driver>)`,
        {
          value: o.failAt,
        },
      );
    fault = driver === undefined || driver === "" ? { hook: hook! } : { hook: hook!, driver };
  }
  const bandwidth = o.bandwidth ?? 256e6;
  if (!(bandwidth > 0)) throw new DemoOptionsError("bandwidth", "must be positive", { bandwidth });
  return {
    seed: int("--seed", o.seed ?? 1, 0, 2 ** 32 - 1),
    vms,
    memoryBytes,
    vmMemoryBytes,
    from: build("--from", o.from ?? VMM_BUILD_A),
    to: build("--to", o.to ?? VMM_BUILD_B),
    updates: int("--updates", o.updates ?? 1, 1, 100),
    fault,
    brownoutTurns: int("brownoutTurns", o.brownoutTurns ?? 4, 0, 1000),
    bandwidth,
    serializeAt: o.serializeAt === "freeze" ? "freeze" : "prepare",
  };
}
