import { defineKernelBuild, LuoRestoreAbortedError, pciRegs } from "@liveupdate/core";
import { fieldOffset, withRestorePolicy } from "@liveupdate/core/testkit";
import { IommufdDriver } from "@liveupdate/drivers-iommufd";
import { GuestmemfsDriver } from "@liveupdate/guestmemfs";
import { describe, expect, it } from "vitest";
import { VfioDeviceMismatchError, VfioHandoverCorruptError, VfioPciDriver, VfioPciV2 } from "../src/index.js";
import { bootVm } from "./fixtures.js";

const lenient = defineKernelBuild({
  version: "6.18.0-vfio-reset",
  drivers: [GuestmemfsDriver, IommufdDriver, withRestorePolicy(VfioPciDriver, "reset")],
  cmdline: "guestmemfs=64M",
});

type Engine = ReturnType<typeof bootVm>["engine"];

/** Ways the live device can stop matching its snapshot between the old kernel and the new one. */
const drifts: Array<{ name: string; field: string; apply: (engine: Engine) => void }> = [
  {
    name: "a BAR moved",
    field: "bars[0].address",
    apply: (e) => e.configWrite(pciRegs.PCI_BASE_ADDRESS_0, 4, 0xd000_0000),
  },
  {
    name: "bus mastering switched off",
    field: "command.bus_master",
    apply: (e) => e.configWrite(pciRegs.PCI_COMMAND, 2, pciRegs.PCI_COMMAND_MEMORY),
  },
  {
    name: "an MSI-X entry rewritten",
    field: "vectors[0].msg_data",
    apply: (e) => e.mmioWrite32(2, 8, 0x99),
  },
  {
    name: "the device was reset",
    field: "bars[0].address",
    apply: (e) => e.functionLevelReset(),
  },
];

describe("a device whose live state no longer matches its snapshot", () => {
  for (const drift of drifts) {
    it(`${drift.name}: abort policy — the restore fails naming ${drift.field}, and the device is reset`, () => {
      const { h, engine, preserve } = bootVm();
      preserve();
      const resets = engine.counters.resets;
      const result = h.update({ needs: {}, beforeBoot: () => drift.apply(engine) });
      const failure = (() => {
        try {
          result.restored(3);
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      expect(failure).toBeInstanceOf(LuoRestoreAbortedError);
      const cause = (failure as Error).cause;
      expect(cause).toBeInstanceOf(VfioDeviceMismatchError);
      expect((cause as VfioDeviceMismatchError).context).toMatchObject({
        field: drift.field,
        bdf: "0000:00:04.0",
      });
      expect(engine.counters.resets).toBeGreaterThan(resets); // reset: it cannot be trusted
      expect(engine.busMasterEnabled).toBe(false); // and it does no more DMA
    });
  }

  it("reset policy: the object is dropped and reported, the device reset, the rest of the VM restored", () => {
    const { h, engine, preserve } = bootVm({ to: lenient });
    preserve();
    const result = h.update({ beforeBoot: () => drifts[0]!.apply(engine) });
    expect(() => result.restored(3)).toThrow(expect.objectContaining({ code: "LUO_OBJECT_RESET" }));
    expect(result.session().status(3)).toBe("reset");
    expect(result.kernel.luo.resets).toMatchObject([
      { driver: "vfio-pci", token: 3n, code: "VFIO_DEVICE_MISMATCH" },
    ]);
    expect(engine.counters.resets).toBe(2); // once at first open, once now
    expect(result.session().status(2)).toBe("restored"); // iommufd (restored first, a dependency)
    expect(result.restored(1)).toBeDefined();
  });

  it("a record that lists vectors while its MSI-X is disabled is corrupt (typed, before the device is looked at)", () => {
    const { h, engine, preserve } = bootVm();
    preserve();
    const result = h.update({
      needs: {},
      beforeBoot: (handover, machine) => {
        const record = handover.file("default", 3)!.data;
        machine.memory.writeU16(record + fieldOffset(VfioPciV2, "msix_flags"), 0);
      },
    });
    let failure: unknown;
    try {
      result.restored(3);
    } catch (error) {
      failure = error;
    }
    expect((failure as Error).cause).toBeInstanceOf(VfioHandoverCorruptError);
    expect((failure as Error).cause).toMatchObject({ context: { field: "vectors" } });
    expect(engine.counters.resets).toBe(1); // a corrupt record touches no device
  });
});
