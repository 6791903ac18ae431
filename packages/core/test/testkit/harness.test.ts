import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { Prng } from "../../src/common/prng.js";
import { LiveUpdateDriver } from "../../src/driver/decorators/live-update-driver.decorator.js";
import { PAGE_SIZE } from "../../src/hw/units.js";
import { defineKernelBuild } from "../../src/kernel/build.js";
import { KernelGoneError } from "../../src/kernel/errors.js";
import { LuoHookFailedError, LuoRestoreAbortedError } from "../../src/luo/errors.js";
import { DriverDeclarationError } from "../../src/luo/handlers/errors.js";
import { getDriverMetadata } from "../../src/luo/handlers/metadata.js";
import { LUO_SCHEMA } from "../../src/luo/handover-schema.js";
import {
  CORRUPTION_KINDS,
  DEFAULT_SESSION,
  HarnessStateError,
  LiveUpdateHarness,
  LUO_RECORD_LAYOUT,
  type LuoHandoverImage,
  MemorySnapshot,
  planCorruption,
  readLuoHandover,
  withCatalog,
  withNative,
  withRestorePolicy,
} from "../../src/testkit/index.js";
import {
  type Blob,
  BlobDriver,
  BlobSchema,
  pattern,
  ResetBlobDriver,
  TwoVersionBlobDriver,
} from "./drivers.js";

const build = defineKernelBuild({ version: "blob-a", drivers: [BlobDriver] });
const build2 = defineKernelBuild({ version: "blob-b", drivers: [BlobDriver] });

describe("LiveUpdateHarness", () => {
  it("retrieves what the VMs need, marks them resumed, and leaves the rest pending (lazy restore)", () => {
    const h = LiveUpdateHarness.boot({ from: build, to: build2, seed: 5, manualClock: true });
    const blobs = h.driver(BlobDriver);
    h.preserve(1, blobs.create(3));
    h.preserve(2, blobs.create(4));
    h.preserve(3, blobs.create(6), { session: "vm" });
    const r = h.update({ needs: { [DEFAULT_SESSION]: [2] } });
    expect(r.session().status(2)).toBe("restored");
    expect(r.session().status(1)).toBe("pending");
    expect(r.kernel.luo.incomingSessions()).toContain("vm");
    const resumed = r.events.filter((e) => e.kind === "resumed");
    expect(resumed).toMatchObject([{ restored: 1, pending: 2 }]);
    expect(r.summary.blackoutEnd).toBe("resumed");
    expect(r.summary.resumedAt).toBe(resumed[0]!.at);
    // Retrieved later: restored outside the blackout.
    expect(r.restored<Blob>(1).value).toBe(3);
    expect(r.finish().finished).toEqual(["vm"]); // restore-then-finish of the never-retrieved session
    expect(r.kernel.luo.phase).toBe("NORMAL");

    const h2 = LiveUpdateHarness.boot({ from: build, seed: 6 });
    h2.preserve(1, h2.driver(BlobDriver).create(1));
    const none = h2.update({ needs: {} });
    expect(none.events.find((e) => e.kind === "resumed")).toMatchObject({ restored: 0, pending: 1 });
    expect(none.restored<Blob>(1).value).toBe(1);
  });

  it("boots A, preserves, updates to B with poisoning, and returns restored objects and the timeline", () => {
    const h = LiveUpdateHarness.boot({ from: build, to: build2, seed: 4 });
    const blobs = h.driver(BlobDriver);
    const a = h.preserve(1, blobs.create(3));
    const b = h.preserve(7n, blobs.create(5), { session: "vm" });
    expect(b.value).toBe(5);
    const loose = blobs.create(9); // not preserved: its page is poisoned
    const calls: string[] = [];
    const r = h.update({
      brownout: (lk) => {
        calls.push(`brownout ${lk.luo.phase}`);
        blobs.bump(a);
      },
      frozen: (lk, report) => calls.push(`frozen ${lk.luo.phase} ${report.serializedAtFreeze}`),
      beforeBoot: (image) => calls.push(`beforeBoot ${image.sessions.map((s) => s.name).join(",")}`),
    });
    expect(calls).toEqual(["brownout PREPARED", "frozen FROZEN 1", `beforeBoot ${DEFAULT_SESSION},vm`]);
    expect(r.kernel).toBe(h.kernel);
    expect(r.kernel.kernel.bootId).toBe(2);
    expect(r.kernel.build).toBe(build2);
    expect(() => r.previous.luo.phase).toThrow(KernelGoneError);
    expect(r.handoff.poisonedBytes).toBeGreaterThan(0);
    expect(r.kernel.machine.memory.readU8(loose.page)).toBe(0x6b);
    const ra = r.restored<Blob>(1);
    const rb = r.restored<Blob>(7, "vm");
    expect([ra.value, rb.value]).toEqual([4, 5]);
    expect(r.kernel.machine.memory.readU8(ra.page)).toBe(pattern(4));
    expect(r.session()).toBe(r.session(DEFAULT_SESSION));
    expect(r.prepare.objects).toBe(2);
    expect(r.summary.blackoutNs).toBeGreaterThan(0);
    expect(r.summary.perObject.map((o) => [o.session, o.token])).toEqual([
      [DEFAULT_SESSION, 1n],
      ["vm", 7n],
    ]);
    expect(r.events.every((e) => e.update === r.update)).toBe(true);
    expect(r.events.some((e) => e.kind === "dirty")).toBe(true);
    expect(r.finish()).toEqual({ finished: [], busy: [] });
    expect(r.kernel.luo.phase).toBe("NORMAL");
    // A second update from the new kernel.
    const again = h.update({ to: build });
    expect(again.kernel.kernel.bootId).toBe(3);
  });

  it("is reproducible: same seed, same layout and addresses", () => {
    const run = () => {
      const h = LiveUpdateHarness.boot({ from: build, seed: 9, manualClock: true });
      const blob = h.preserve(1, h.driver(BlobDriver).create(1));
      const r = h.update();
      return [blob.page, r.kernel.kernel.layout.directMapBase, r.summary.blackoutNs];
    };
    expect(run()).toEqual(run());
  });

  it("prepares by hand, then updates from PREPARED; refuses a kernel prepared behind its back", () => {
    const h = LiveUpdateHarness.boot({ from: build, to: build2 });
    const blob = h.preserve(1, h.driver(BlobDriver).create(2));
    const report = h.prepare();
    expect(h.kernel.luo.phase).toBe("PREPARED");
    const r = h.update();
    expect(r.prepare).toBe(report);
    expect(r.restored<Blob>(1).page).toBe(blob.page);

    const h2 = LiveUpdateHarness.boot({ from: build });
    h2.preserve(1, h2.driver(BlobDriver).create());
    h2.kernel.kernel.kexecLoad(build);
    h2.kernel.luo.prepare();
    expect(() => h2.update()).toThrow(HarnessStateError);
  });

  it("a failure before the reboot leaves the old kernel running; a failed boot leaves no kernel", () => {
    const h = LiveUpdateHarness.boot({ from: build });
    const blobs = h.driver(BlobDriver);
    const blob = h.preserve(1, blobs.create(1));
    expect(() =>
      h.update({
        brownout: () => {
          throw new Error("test");
        },
      }),
    ).toThrow("test");
    expect(h.kernel.luo.phase).toBe("NORMAL");
    blob.value = -1; // not a u32: the serialize hook's value cannot be encoded
    expect(() => h.update()).toThrow(LuoHookFailedError);
    expect(h.kernel.luo.phase).toBe("NORMAL");
    blob.value = 1;
    expect(() =>
      h.update({
        beforeBoot: (image, machine) =>
          machine.memory.writeU64(image.file(DEFAULT_SESSION, 1)!.data, 0x10_0000n),
      }),
    ).toThrow(LuoRestoreAbortedError);
    const error = (() => {
      try {
        return h.kernel;
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(HarnessStateError);
    expect((error as HarnessStateError).cause).toBeInstanceOf(LuoRestoreAbortedError);
  });
});

describe("readLuoHandover", () => {
  it("maps every record of the handover to its physical address", () => {
    const h = LiveUpdateHarness.boot({ from: build });
    const blobs = h.driver(BlobDriver);
    const a = h.preserve(1, blobs.create(1));
    h.preserve(2, blobs.create(2));
    let image: LuoHandoverImage | undefined;
    const r = h.update({ beforeBoot: (i) => (image = i) });
    expect(r.handover).toBe(image);
    const memory = r.kernel.machine.memory;
    const L = LUO_RECORD_LAYOUT;
    expect(image!.subtree.compatible).toBe(LUO_SCHEMA.compatible(1));
    expect(image!.sessions).toHaveLength(1);
    const file = image!.file(DEFAULT_SESSION, 1)!;
    expect(file).toMatchObject({ session: DEFAULT_SESSION, token: 1n, compatible: "blob-v1", index: 0 });
    expect(memory.readU64(file.record + L.file.token)).toBe(1n);
    expect(Number(memory.readU64(file.record + L.file.data))).toBe(file.data);
    expect(Number(memory.readU64(file.data))).toBe(a.page); // blob_v1.page is the first field
    expect(file.folios.filter((f) => !f.data)).toEqual([
      { phys: a.page, order: 0, data: false, entry: file.foliosPtr + L.folio.size },
    ]);
    expect(image!.file(DEFAULT_SESSION, 3)).toBeUndefined();
    expect(image!.sessions[0]!.files[1]!.record).toBe(file.record + L.file.size);
    expect(() => readLuoHandover(r.kernel.machine, { ...image!.bootData, fdtAddr: 0x1000 })).toThrow();
  });

  it("plans every kind of corruption deterministically", () => {
    const h = LiveUpdateHarness.boot({ from: build });
    h.preserve(1, h.driver(BlobDriver).create(1));
    h.preserve(2, h.driver(BlobDriver).create(2));
    const plans: string[] = [];
    let preserved = new Map<number, number>();
    h.update({
      frozen: (lk) => {
        preserved = new Map([...lk.kho.outgoing.preservedFolios()].map((f) => [f.phys, f.order]));
      },
      beforeBoot: (image, machine) => {
        const target = {
          machine,
          image,
          file: image.file(DEFAULT_SESSION, 1)!,
          version: getDriverMetadata(BlobDriver)!.schema.version(1),
          otherReadable: [],
          preserved,
        };
        for (const kind of CORRUPTION_KINDS) {
          const one = planCorruption(kind, target, new Prng(3)).description;
          expect(planCorruption(kind, target, new Prng(3)).description).toBe(one);
          plans.push(`${kind}: ${one}`);
        }
      },
    });
    expect(plans).toHaveLength(4);
  });
});

describe("MemorySnapshot", () => {
  it("sees nothing after a clean cancel, and reports leaks, changed pages and freed pages", () => {
    const h = LiveUpdateHarness.boot({ from: build });
    const blobs = h.driver(BlobDriver);
    const lk = h.kernel;
    const blob = h.preserve(1, blobs.create(1));
    const root = lk.kho.finalize().fdtPhys;
    lk.kho.abort();
    const snapshot = MemorySnapshot.take(lk, { exclude: [{ base: root, size: PAGE_SIZE }] });
    h.prepare();
    lk.luo.freeze();
    lk.luo.cancel();
    expect(snapshot.compare(lk)).toEqual([]);

    const extra = lk.kernel.allocPages(0);
    lk.machine.memory.writeU8(blob.page + 5, 0x99);
    lk.kho.preserveFolio(extra, 0);
    const other = blobs.create(7);
    const before = MemorySnapshot.take(lk);
    lk.kernel.freePages(other.page, 0);
    expect(before.compare(lk)).toEqual([
      "4096 bytes more are free than before (something freed memory it did not allocate)",
      `page 0x${other.page.toString(16)} was in use and is free now`,
    ]);
    const lines = snapshot.compare(lk);
    expect(lines[0]).toBe(`still preserved (KHO): 0x${extra.toString(16)}/0`);
    expect(lines).toContain(
      `page 0x${blob.page.toString(16)} changed: first difference at +0x5 (0x${pattern(1).toString(16)} → 0x99)`,
    );
  });
});

/** Its restore always fails (a stand-in for a handover the driver refuses). */
@LiveUpdateDriver({ schema: BlobSchema })
class BrokenRestoreBlobDriver extends BlobDriver {
  override onRestore(): Blob {
    throw new Error("refused by the test");
  }
}

describe("driver variants", () => {
  it("withCatalog: same driver, another catalog, cached", () => {
    const v = withCatalog(TwoVersionBlobDriver, { reads: [2] });
    expect(withCatalog(TwoVersionBlobDriver, { reads: [2] })).toBe(v);
    expect(getDriverMetadata(v)).toMatchObject({ name: "goodblob", native: 2, writes: [1, 2], reads: [2] });
    expect(v.name).toBe("TwoVersionBlobDriver[w1,2/r2]");
    expect(() => withCatalog(TwoVersionBlobDriver, { reads: [1] })).toThrow(DriverDeclarationError);
    class Plain {}
    expect(() => withCatalog(Plain, {})).toThrow(DriverDeclarationError);
  });

  it("withNative: the driver speaks v1 through its own hooks and migrators", () => {
    const V1 = withNative(TwoVersionBlobDriver, 1);
    expect(withNative(TwoVersionBlobDriver, 1)).toBe(V1);
    expect(getDriverMetadata(V1)).toMatchObject({ native: 1, writes: [1], reads: [1] });
    expect(() => withNative(TwoVersionBlobDriver, 3)).toThrow(DriverDeclarationError);
    const old = defineKernelBuild({ version: "old", drivers: [V1] });
    const current = defineKernelBuild({ version: "new", drivers: [TwoVersionBlobDriver] });
    // new → old: value 1 crosses at v1; value 0 (extra = 1) cannot and is refused at prepare.
    const h = LiveUpdateHarness.boot({ from: current, to: old });
    const blob = h.preserve(1, h.driver(TwoVersionBlobDriver).create(1));
    const r = h.update();
    expect(r.prepare.negotiation.drivers.find((d) => d.driver === "goodblob")!.version).toBe(1);
    expect(r.restored<Blob>(1)).toMatchObject({ page: blob.page, value: 1 });
    const refused = LiveUpdateHarness.boot({ from: current, to: old });
    refused.preserve(1, refused.driver(TwoVersionBlobDriver).create(0));
    expect(() => refused.update()).toThrow(LuoHookFailedError);
    // old → new
    const up = LiveUpdateHarness.boot({ from: old, to: current });
    up.preserve(1, up.driver(V1).create(4));
    expect(up.update().restored<Blob>(1).value).toBe(4);
  });

  it("withRestorePolicy: same driver, the other policy — a failed restore resets the object instead of aborting", () => {
    const Lenient = withRestorePolicy(BlobDriver, "reset");
    expect(withRestorePolicy(BlobDriver, "reset")).toBe(Lenient);
    expect(withRestorePolicy(BlobDriver, "abort")).toBe(BlobDriver);
    expect(getDriverMetadata(Lenient)).toMatchObject({ name: "blob", restorePolicy: "reset" });
    expect(getDriverMetadata(withRestorePolicy(ResetBlobDriver, "abort"))).toMatchObject({
      restorePolicy: "abort",
    });
    class Plain {}
    expect(() => withRestorePolicy(Plain, "reset")).toThrow(DriverDeclarationError);
    // The same failing restore under each policy.
    const run = (Driver: typeof BlobDriver) => {
      const h = LiveUpdateHarness.boot({
        from: defineKernelBuild({ version: "p-a", drivers: [Driver] }),
        to: defineKernelBuild({ version: "p-b", drivers: [Driver] }),
      });
      h.preserve(1, h.driver(Driver).create(2));
      return h.update({ needs: {} });
    };
    const strict = run(BrokenRestoreBlobDriver);
    expect(() => strict.restored(1)).toThrow(LuoRestoreAbortedError);
    const lenient = run(withRestorePolicy(BrokenRestoreBlobDriver, "reset"));
    expect(() => lenient.restored(1)).toThrow(expect.objectContaining({ code: "LUO_OBJECT_RESET" }));
    expect(lenient.session().status(1)).toBe("reset");
    expect(lenient.kernel.luo.resets).toMatchObject([{ driver: "blob", token: 1n }]);
  });
});
