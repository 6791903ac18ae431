import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { defineKernelBuild } from "../../src/kernel/build.js";
import { LuoHookFailedError, LuoInjectedFaultError, LuoRestoreAbortedError } from "../../src/luo/errors.js";
import { LiveUpdateHarness } from "../../src/testkit/index.js";
import { type Blob, BlobDriver } from "../testkit/drivers.js";

const build = defineKernelBuild({ version: "faults", drivers: [BlobDriver] });

function failing(hook: string, driver?: string) {
  const h = LiveUpdateHarness.boot({
    from: build,
    luo: { injectFault: { hook, ...(driver ? { driver } : {}) } },
  });
  const blob = h.preserve(1, h.driver(BlobDriver).create(7));
  return { h, blob };
}

describe("LuoOptions.injectFault", () => {
  for (const hook of ["prepare", "serialize"]) {
    it(`a ${hook} fault cancels the update: typed, old kernel in NORMAL, object intact`, () => {
      const { h, blob } = failing(hook, "blob");
      let error: unknown;
      try {
        h.update();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(LuoHookFailedError);
      expect((error as Error).cause).toBeInstanceOf(LuoInjectedFaultError);
      expect((error as Error).cause).toMatchObject({
        code: "LUO_INJECTED_FAULT",
        context: { hook, driver: "blob" },
      });
      expect(h.kernel.luo.phase).toBe("NORMAL");
      expect(h.timeline.summary().cancelled).toBe(true);
      // Injected once: the next attempt goes through.
      expect(h.update().restored<Blob>(1).value).toBe(blob.value);
    });
  }

  it("never fires for a hook the driver does not have (the blob has no freeze hook)", () => {
    const { h } = failing("freeze", "blob");
    expect(h.update().restored<Blob>(1).value).toBe(7);
  });

  it("fires only for the named driver, and `times` times", () => {
    const other = failing("prepare", "not-blob");
    expect(other.h.update().restored<Blob>(1).value).toBe(7);
    const h = LiveUpdateHarness.boot({ from: build, luo: { injectFault: { hook: "prepare", times: 2 } } });
    h.preserve(1, h.driver(BlobDriver).create(1));
    expect(() => h.update()).toThrow(LuoHookFailedError);
    expect(() => h.update()).toThrow(LuoHookFailedError);
    expect(h.update().restored<Blob>(1).value).toBe(1);
  });

  it("a restore fault in the new kernel follows the restore policy (abort)", () => {
    const h = LiveUpdateHarness.boot({ from: build });
    h.preserve(1, h.driver(BlobDriver).create(3));
    const r = h.update({ needs: {}, luo: { injectFault: { hook: "restore" } } });
    expect(() => r.restored(1)).toThrow(LuoRestoreAbortedError);
  });
});
