import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { LiveUpdateError } from "../../src/common/errors.js";
import type { RestoreContext } from "../../src/driver/index.js";
import { LiveUpdateDriver } from "../../src/driver/index.js";
import { PAGE_SIZE } from "../../src/hw/units.js";
import { verifyDriverConformance } from "../../src/testkit/index.js";
import { Blob, BlobDriverBase, BlobSchema, type BlobV1Value, blobOptions, pattern } from "./drivers.js";

/** The page a blob adopts in place does not hold its pattern any more. */
class BlobPageChangedError extends LiveUpdateError {
  readonly code = "BLOB_PAGE_CHANGED";
}

/**
 * Checks the page it adopts in place (as iommufd walks its tables) and refuses a changed one, under
 * the default `abort` policy: refusing one object fails the whole boot.
 */
@LiveUpdateDriver({ schema: BlobSchema })
class CheckingBlobDriver extends BlobDriverBase {
  override onRestore(state: BlobV1Value, ctx: RestoreContext): Blob {
    const page = Number(state.page);
    const bytes = this.kernel.machine.memory.read(page, PAGE_SIZE);
    if (bytes.some((b) => b !== pattern(state.value)))
      throw new BlobPageChangedError("the in-place page changed", { driver: ctx.driver, token: ctx.token });
    return new Blob(ctx.restoreFolio(page, 0), state.value);
  }
}

describe("the corruption check under the abort restore policy", () => {
  it("lets a changed in-place page fail the boot: the other objects are intact or rejected", () => {
    const report = verifyDriverConformance(
      CheckingBlobDriver,
      blobOptions({ checks: ["corruption"], objects: 3, seed: 3, corruption: { trials: 48 } }),
    );
    const corruption = report.checks.find((c) => c.name === "corruption")!;
    expect(corruption.failures.map((f) => f.message)).toEqual([]);
    // Some trial did hit a page in place and the driver refused it, failing the boot for all.
    const hits = report.trials.filter((t) => t.description.includes("in-place page"));
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.some((t) => t.objects.filter((o) => o.actual === "rejected").length > 1)).toBe(true);
  });
});
