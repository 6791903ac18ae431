/**
 * The guide's folio example (docs/guides/plugin-authoring.md, "Pages preserved in place"): a device
 * whose registers live in a page preserved in place; the handover carries only the page's address
 * (a `folio()` field) and a counter. Type-checked by `npm test` and run by
 * packages/core/test/docs/in-place-folio.test.ts.
 */
import {
  bootLiveUpdateKernel,
  defineKernelBuild,
  folio,
  type Infer,
  Kernel,
  kexecIntoNext,
  LiveUpdateDriver,
  Machine,
  type PrepareContext,
  type RestoreContext,
  reserved,
  struct,
  u32,
  versionedSchema,
} from "@liveupdate/core";

// #region schema
/** The handover state: where the register page is (preserved in place, never copied) and a count. */
export const DeviceV1 = struct("device_v1", {
  regs: folio(), // the physical address of an order-0 folio this object preserved
  opens: u32(),
  _reserved: reserved(4),
});
export type DeviceV1Value = Infer<typeof DeviceV1>;
// #endregion schema

/** The device: a page of registers the (emulated) hardware reads, and a counter. */
export class Device {
  constructor(
    readonly regs: number,
    public opens: number,
  ) {}
}

// #region driver
@LiveUpdateDriver({ schema: versionedSchema("device", DeviceV1) })
export class DeviceDriver {
  constructor(readonly kernel: Kernel) {}

  canPreserve(object: unknown): boolean {
    return object instanceof Device;
  }

  /** The page stays where it is: preserve it (a `folio()` field may only name a preserved folio). */
  onPrepare(device: Device, ctx: PrepareContext): void {
    ctx.preserveFolio(device.regs, 0);
  }

  onSerialize(device: Device): DeviceV1Value {
    return { regs: BigInt(device.regs), opens: device.opens };
  }

  /** `state.regs` was checked against the folios listed for this object before this hook runs. */
  onRestore(state: DeviceV1Value, ctx: RestoreContext): Device {
    return new Device(ctx.restoreFolio(Number(state.regs), 0), state.opens);
  }
}
// #endregion driver

/** One update: the page and its contents survive in place, the counter crosses in the handover. */
export function inPlaceFolioExample(): { samePage: boolean; contents: number; opens: number } {
  const build = defineKernelBuild({ version: "6.17.0", drivers: [DeviceDriver] });
  const old = bootLiveUpdateKernel(new Machine({ memory: "256M" }), { build });
  const regs = old.kernel.allocPages(0);
  old.machine.memory.fill(regs, 4096, 0x5a);
  old.luo.createSession("vm").preserve(1, new Device(regs, 3));
  old.kernel.kexecLoad(build);
  const next = kexecIntoNext(old, { build });
  const device = next.luo.retrieveSession("vm").retrieve(1) as Device;
  return {
    samePage: device.regs === regs,
    contents: next.machine.memory.read(device.regs, 1)[0]!,
    opens: device.opens,
  };
}
