import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { LiveUpdateDriver } from "../../src/driver/index.js";
import { Machine } from "../../src/hw/machine.js";
import { defineKernelBuild } from "../../src/kernel/build.js";
import { bootLiveUpdateKernel } from "../../src/luo/boot.js";
import { DriverMissingDependencyError } from "../../src/luo/handlers/errors.js";
import { DriverRegistry } from "../../src/luo/registry.js";
import { reserved, struct, u32, versionedSchema } from "../../src/schema/index.js";
import { withNative, withRestorePolicy } from "../../src/testkit/index.js";
import { BlobDriver, TwoVersionBlobDriver } from "../testkit/drivers.js";

const TallySchema = versionedSchema("tally", struct("tally_v1", { n: u32(), _r: reserved(4) }));

/** A driver that injects another by its class. */
@LiveUpdateDriver({ schema: TallySchema })
class TallyDriver {
  constructor(readonly blobs: BlobDriver) {}
  onSerialize(): { n: number } {
    return { n: 0 };
  }
  onRestore(state: { n: number }): number {
    return state.n;
  }
}

/** Same, on a driver with two versions. */
@LiveUpdateDriver({ schema: TallySchema })
class TwoTallyDriver {
  constructor(readonly blobs: TwoVersionBlobDriver) {}
  onSerialize(): { n: number } {
    return { n: 0 };
  }
  onRestore(state: { n: number }): number {
    return state.n;
  }
}

describe("variants stand in for their base class", () => {
  it("a consumer that injects the base class gets the variant the build ships", () => {
    const Lenient = withRestorePolicy(BlobDriver, "reset");
    const build = defineKernelBuild({ version: "stand-in", drivers: [Lenient, TallyDriver] });
    const registry = DriverRegistry.of(build);
    expect(registry.unitOf(BlobDriver)).toBe(registry.unitOf(Lenient));
    expect(registry.unitOf(Lenient)!.standsFor).toEqual([BlobDriver]);
    expect(registry.unitOf(TallyDriver)!.dependencies.map((u) => u.cls)).toEqual([Lenient]);
    const lk = bootLiveUpdateKernel(new Machine({ memory: "256M" }), { build });
    expect(lk.driver(TallyDriver).blobs).toBe(lk.driver(BlobDriver));
    expect(lk.driver(BlobDriver)).toBe(lk.driver(Lenient));
  });

  it("works for withNative variants too, and a build with neither is still refused", () => {
    const V1 = withNative(TwoVersionBlobDriver, 1);
    const build = defineKernelBuild({ version: "stand-in-v1", drivers: [V1, TwoTallyDriver] });
    const lk = bootLiveUpdateKernel(new Machine({ memory: "256M" }), { build });
    expect(lk.driver(TwoTallyDriver).blobs).toBe(lk.driver(V1));
    expect(() => DriverRegistry.of(defineKernelBuild({ version: "none", drivers: [TallyDriver] }))).toThrow(
      DriverMissingDependencyError,
    );
  });

  it("the base class itself, when in the build, is itself (no stand-in)", () => {
    const build = defineKernelBuild({ version: "base", drivers: [BlobDriver, TallyDriver] });
    expect(DriverRegistry.of(build).unitOf(BlobDriver)!.standsFor).toEqual([]);
  });
});
