import "reflect-metadata";
import { container } from "tsyringe";
import { describe, expect, it } from "vitest";
import { KernelGoneError } from "../../src/kernel/errors.js";
import { verifyDriverConformance } from "../../src/testkit/index.js";
import { type Counter, CounterDriver, CounterTable, Probe } from "../luo/fixtures.js";

/** A counter that keeps a reference to its driver's FLB instance (as an iommufd context keeps guestmemfs). */
type LinkedCounter = Counter & { table?: CounterTable };

describe("the old-kernel walk of the update check", () => {
  it("skips kernel-bound driver instances of the old boot instead of throwing on them", () => {
    const parent = container.createChildContainer();
    parent.registerInstance(Probe, new Probe());
    let table: CounterTable | undefined;
    const report = verifyDriverConformance(CounterDriver, {
      container: parent,
      checks: ["update"],
      createObject: (lk, rng, driver) => {
        const counter: LinkedCounter = driver.create(rng.int(0, 1000));
        // The kernel-bound FLB instance (not the writer driver, which the walk treats as kernel state).
        table = lk.driver(CounterTable);
        counter.table = table;
        return counter;
      },
      snapshot: (c) => ({ value: c.value }),
      assertRestored: (_o, r, ctx) => {
        expect(r.value).toBe(ctx.snapshot!.value);
      },
    });
    const update = report.checks.find((c) => c.name === "update")!;
    expect(update.failures.map((f) => f.message)).toEqual([]);
    expect(update.status).toBe("passed");
    // The walk met an object that refuses every access once its kernel is gone.
    expect(table).toBeDefined();
    expect(() => Object.entries(table!)).toThrow(KernelGoneError);
  });
});
