import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { LiveUpdateDriver } from "../../src/driver/decorators/live-update-driver.decorator.js";
import { defineKernelBuild } from "../../src/kernel/build.js";
import { kexecIntoNext } from "../../src/luo/boot.js";
import { LuoNegotiationRefusedError } from "../../src/luo/errors.js";
import { type Infer, reserved, struct, u32, versionedSchema } from "../../src/schema/index.js";
import { world } from "./fixtures.js";

const GaugeV1 = struct("gauge_v1", { value: u32(), _pad: reserved(4) });
const GaugeV2 = struct("gauge_v2", { value: u32(), extra: u32() });
type GaugeV2Value = Infer<typeof GaugeV2>;
/** v2 → v1 drops `extra`: a lossy down-migrator. */
const GaugeSchema = versionedSchema("gauge", GaugeV1).next(GaugeV2, {
  kind: "lossy",
  up: (v1) => ({ value: v1.value, extra: 0 }),
  down: (v2) => ({ value: v2.value }),
});

class Gauge {
  constructor(
    public value: number,
    public extra: number,
  ) {}
}

class GaugeHooks {
  canPreserve(object: unknown): boolean {
    return object instanceof Gauge;
  }
  onSerialize(g: Gauge): GaugeV2Value {
    return { value: g.value, extra: g.extra };
  }
  onRestore(state: { value: number; extra?: number }): Gauge {
    return new Gauge(state.value, state.extra ?? -1);
  }
}

/** Writes only v2 (native v2); allows lossy itself. */
@LiveUpdateDriver({ schema: GaugeSchema, writes: [2], reads: [2], allowLossy: true })
class GaugeWriterLossy extends GaugeHooks {}
/** Writes only v2 (native v2); no lossy policy. */
@LiveUpdateDriver({ schema: GaugeSchema, writes: [2], reads: [2] })
class GaugeWriter extends GaugeHooks {}
/** Native v1, reads v2 by migrating down (lossy); refuses lossy. */
@LiveUpdateDriver({ schema: GaugeSchema, native: 1, writes: [1], reads: [1, 2] })
class GaugeReaderStrict extends GaugeHooks {}
/** Native v1, reads v2 by migrating down (lossy); allows lossy. */
@LiveUpdateDriver({ schema: GaugeSchema, native: 1, writes: [1], reads: [1, 2], allowLossy: true })
class GaugeReaderLossy extends GaugeHooks {}

const build = (version: string, driver: object) =>
  defineKernelBuild({ version, drivers: [driver as typeof GaugeWriter] });

describe("lossy steps on the read path are judged by the target's policy", () => {
  it("refuses before PREPARED when only the running build allows the lossy read step (no panic after kexec)", () => {
    const w = world();
    const a = w.boot(build("a", GaugeWriterLossy));
    a.luo.createSession("vm").preserve(1, new Gauge(3, 4));
    a.kernel.kexecLoad(build("b", GaugeReaderStrict));
    expect(() => a.luo.prepare()).toThrow(LuoNegotiationRefusedError);
    expect(a.luo.phase).toBe("NORMAL");
  });

  it("updates when the target allows the lossy read step, and the target migrates with allowLossy", () => {
    const w = world();
    const a = w.boot(build("a", GaugeWriter));
    a.luo.createSession("vm").preserve(1, new Gauge(3, 4));
    a.kernel.kexecLoad(build("b", GaugeReaderLossy));
    const report = a.luo.prepare();
    expect(report.negotiation.drivers.find((d) => d.driver === "gauge")).toMatchObject({
      version: 2,
      readLossy: true,
      writeLossy: false,
    });
    const b = kexecIntoNext(a);
    const g = b.luo.retrieveSession("vm").retrieve(1) as Gauge;
    expect(g.value).toBe(3);
    expect(g.extra).toBe(-1);
  });
});
