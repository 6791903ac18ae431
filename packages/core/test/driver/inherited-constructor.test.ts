import "reflect-metadata";
import { inject, injectable } from "tsyringe";
import { describe, expect, it } from "vitest";
import {
  DriverDeclarationError,
  KERNEL_BUILD,
  LiveUpdateDriver,
  LiveUpdateFlb,
} from "../../src/driver/index.js";
import type { KernelBuild } from "../../src/kernel/build.js";
import { Kernel } from "../../src/kernel/kernel.js";
import { Kho } from "../../src/kho/kho.js";
import { boot, schemaNamed } from "./helpers.js";

/** A base whose constructor carries metadata (`@injectable()`), including an `@inject()` token. */
@injectable()
class InjectableBase {
  constructor(
    readonly kernel: Kernel,
    @inject(KERNEL_BUILD) readonly build: KernelBuild,
  ) {}
  onSerialize() {
    return { value: 1 };
  }
  onRestore() {
    return {};
  }
}

@LiveUpdateDriver({ schema: schemaNamed("inherits") })
class Inherits extends InjectableBase {}

/** Two levels down: the nearest class with metadata supplies it. */
class Middle extends InjectableBase {}
@LiveUpdateDriver({ schema: schemaNamed("inherits-twice") })
class InheritsTwice extends Middle {}

@injectable()
class FlbBase {
  constructor(readonly kho: Kho) {}
  onSerialize() {
    return { value: 2 };
  }
  onRestore() {}
}

@LiveUpdateFlb({ schema: schemaNamed("inherited-flb") })
class InheritedFlb extends FlbBase {}

@LiveUpdateDriver({ schema: schemaNamed("uses-flb"), flbs: [InheritedFlb] })
class UsesFlb extends InjectableBase {
  constructor(
    kernel: Kernel,
    @inject(KERNEL_BUILD) build: KernelBuild,
    readonly flb: InheritedFlb,
  ) {
    super(kernel, build);
  }
}

/** The case: the base has a constructor with parameters and no decorator, so no metadata. */
class PlainBase {
  constructor(readonly kernel: Kernel) {}
  onSerialize() {
    return { value: 0 };
  }
  onRestore() {
    return {};
  }
}

describe("a driver that inherits its constructor", () => {
  it("gets the dependencies its base's constructor declares (types and @inject tokens)", () => {
    const k = boot([Inherits, InheritsTwice]);
    for (const cls of [Inherits, InheritsTwice]) {
      const d = k.driver(cls);
      expect(d.kernel).toBe(k.kernel);
      expect(d.build).toBe(k.build);
    }
  });

  it("works for FLBs too, and leaves the base's own metadata alone", () => {
    const k = boot([UsesFlb]);
    expect(k.driver(UsesFlb).flb.kho).toBe(k.kho);
    expect(k.driver(UsesFlb).build).toBe(k.build);
    expect(Reflect.getOwnMetadata("design:paramtypes", InjectableBase)).toHaveLength(2);
  });

  it("is refused at declaration when the inherited constructor takes parameters without metadata", () => {
    const declare = () => {
      @LiveUpdateDriver({ schema: schemaNamed("plain") })
      class Plain extends PlainBase {}
      return Plain;
    };
    expect(declare).toThrow(DriverDeclarationError);
    expect(declare).toThrow(/inherits the constructor of PlainBase.*@injectable\(\)/);
    try {
      declare();
    } catch (e) {
      expect((e as DriverDeclarationError).context).toMatchObject({
        driver: "plain",
        base: "PlainBase",
        parameters: 1,
      });
    }
    const declareFlb = () => {
      @LiveUpdateFlb({ schema: schemaNamed("plain-flb") })
      class PlainFlb extends PlainBase {}
      return PlainFlb;
    };
    expect(declareFlb).toThrow(DriverDeclarationError);
  });

  it("is accepted when the undecorated base's constructor takes no parameters", () => {
    class NoArgs {
      readonly made = true;
      onSerialize() {
        return { value: 0 };
      }
      onRestore() {
        return {};
      }
    }
    @LiveUpdateDriver({ schema: schemaNamed("no-args") })
    class FromNoArgs extends NoArgs {}
    expect(boot([FromNoArgs]).driver(FromNoArgs).made).toBe(true);
  });
});
