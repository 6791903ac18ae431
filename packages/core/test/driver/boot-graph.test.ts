import "reflect-metadata";
import { container, inject, injectable } from "tsyringe";
import { describe, expect, it } from "vitest";
import {
  DriverCompatibleConflictError,
  DriverDeclarationError,
  DriverDependencyCycleError,
  DriverInjectionError,
  DriverMissingDependencyError,
  KERNEL_BUILD,
  LiveUpdateDriver,
} from "../../src/driver/index.js";
import { Machine } from "../../src/hw/machine.js";
import { defineKernelBuild, type KernelBuild } from "../../src/kernel/build.js";
import { KernelGoneError } from "../../src/kernel/errors.js";
import { Kernel } from "../../src/kernel/kernel.js";
import { Kho } from "../../src/kho/kho.js";
import { bootLiveUpdateKernel, kexecIntoNext } from "../../src/luo/boot.js";
import { Luo } from "../../src/luo/orchestrator.js";
import { DriverRegistry } from "../../src/luo/registry.js";
import { Timeline } from "../../src/luo/timeline.js";
import { BridgeDriver, buildA, CounterDriver, CounterDriverV1, CounterTable } from "../luo/fixtures.js";
import { boot, schemaNamed } from "./helpers.js";

abstract class Minimal {
  onSerialize() {
    return { value: 0 };
  }
  onRestore() {
    return {};
  }
}

@LiveUpdateDriver({ schema: schemaNamed("iommu") })
class Iommu extends Minimal {}

@LiveUpdateDriver({ schema: schemaNamed("vfio") })
class Vfio extends Minimal {
  constructor(readonly iommu: Iommu) {
    super();
  }
}

@LiveUpdateDriver({ schema: schemaNamed("ping"), dependsOn: () => [Pong] })
class Ping extends Minimal {}

@LiveUpdateDriver({ schema: schemaNamed("pong"), dependsOn: () => [Ping] })
class Pong extends Minimal {}

@LiveUpdateDriver({ schema: schemaNamed("iommu") })
class OtherIommu extends Minimal {}

interface Anything {
  x: number;
}

@LiveUpdateDriver({ schema: schemaNamed("needs-interface") })
class NeedsInterface extends Minimal {
  constructor(readonly dep: Anything) {
    super();
  }
}

@LiveUpdateDriver({ schema: schemaNamed("services") })
class Services extends Minimal {
  constructor(
    readonly kernel: Kernel,
    readonly kho: Kho,
    readonly machine: Machine,
    readonly luo: Luo,
    readonly timeline: Timeline,
    @inject(KERNEL_BUILD) readonly build: KernelBuild,
  ) {
    super();
  }
}

@injectable()
class Throws {
  constructor() {
    throw new Error("boom");
  }
}

@LiveUpdateDriver({ schema: schemaNamed("fragile") })
class Fragile extends Minimal {
  constructor(readonly t: Throws) {
    super();
  }
}

describe("the driver graph of a build, checked at boot", () => {
  it("orders providers before consumers, whatever the build lists first", () => {
    const registry = DriverRegistry.of(defineKernelBuild({ version: "g", drivers: [Vfio, Iommu] }));
    expect(registry.units.map((u) => u.name)).toEqual(["iommu", "vfio"]);
    expect(registry.unitOf(Vfio)!.dependencies.map((u) => u.name)).toEqual(["iommu"]);
    const registry2 = DriverRegistry.of(buildA);
    expect(registry2.compatibles()).toEqual(["bridge-v1", "counter-table-v1", "counter-v1", "counter-v2"]);
    expect(registry2.handlerForCompatible("counter-v1")?.cls).toBe(CounterDriver);
    expect(registry2.handlerForCompatible("counter-v3")).toBeUndefined();
    expect(Object.keys(registry2.catalog().catalog).sort()).toEqual([
      "bridge",
      "counter",
      "counter-table",
      "luo",
    ]);
    // Token dependencies (@inject(COUNTER_DRIVER)) and FLBs count too.
    expect(DriverRegistry.of(buildA).units.map((u) => u.name)).toEqual([
      "counter-table",
      "counter",
      "bridge",
    ]);
  });

  it("reports a missing dependency, a cycle, two claims of one compatible string, an interface without token", () => {
    expect(() => boot([Vfio])).toThrow(DriverMissingDependencyError);
    expect(() => boot([Vfio])).toThrow(/vfio depends on Iommu/);
    expect(() => boot([BridgeDriver])).toThrow(DriverInjectionError); // COUNTER_DRIVER provided by nobody
    expect(() => boot([Ping, Pong])).toThrow(DriverDependencyCycleError);
    try {
      boot([Ping, Pong]);
    } catch (e) {
      expect((e as DriverDependencyCycleError).context.cycle).toEqual(["ping", "pong", "ping"]);
    }
    expect(() => boot([Iommu, OtherIommu])).toThrow(DriverCompatibleConflictError);
    expect(() => boot([CounterDriver, CounterDriverV1])).toThrow(/counter-v1/);
    expect(() => boot([NeedsInterface])).toThrow(DriverInjectionError);
    expect(() => boot([NeedsInterface])).toThrow(/@inject/);
    expect(() => boot([Fragile])).toThrow(DriverInjectionError);
    expect(() => boot([class Undecorated {} as never])).toThrow(DriverDeclarationError);
    expect(() => boot([CounterTable as never])).toThrow(DriverDeclarationError);
  });

  it("injects kernel services per boot into a fresh container, and old instances fail after kexec", () => {
    const parent = container.createChildContainer();
    const machine = new Machine({ memory: "256M" });
    const build = defineKernelBuild({ version: "s1", drivers: [Services] });
    const a = bootLiveUpdateKernel(machine, { build, container: parent });
    const s = a.driver(Services);
    expect(s.kernel).toBe(a.kernel);
    expect(s.kho).toBe(a.kho);
    expect(s.machine).toBe(machine);
    expect(s.luo).toBe(a.luo);
    expect(s.timeline).toBe(a.timeline);
    expect(s.build).toBe(build);
    expect(a.container.resolve(Services)).toBe(s);
    expect(parent.isRegistered(Services)).toBe(false);

    const b = kexecIntoNext(a, { build });
    const s2 = b.driver(Services);
    expect(s2 === s).toBe(false);
    expect(s2.kernel).toBe(b.kernel);
    expect(b.luo.parentContainer).toBe(parent);
    expect(() => s.kernel).toThrow(KernelGoneError);
    expect(() => s.onSerialize()).toThrow(KernelGoneError);
    const saved = s2.onSerialize;
    expect(saved()).toEqual({ value: 0 });
    expect(() => a.driver(Services)).toThrow(KernelGoneError);
  });
});
