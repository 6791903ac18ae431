import { describe, expect, expectTypeOf, it } from "vitest";
import { Fs, type FsV1, type FsV3, type FsV4, sampleV1 } from "./fixtures/example-schema.js";
import {
  caught,
  compatibleString,
  errorCode,
  parseCompatibleString,
  SchemaDowngradeRefusedError,
  SchemaLossyRefusedError,
  SchemaUnknownVersionError,
  struct,
  u32,
  versionedSchema,
} from "./helpers.js";

describe("versioned schema", () => {
  it("exposes versions, compatible strings, sizes, hashes and migrator kinds", () => {
    expect(Fs.name).toBe("examplefs");
    expect(Fs.latest).toBe(4);
    expect(Fs.versions.map((v) => v.version)).toEqual([1, 2, 3, 4]);
    expect(Fs.versions.map((v) => v.compatible)).toEqual([
      "examplefs-v1",
      "examplefs-v2",
      "examplefs-v3",
      "examplefs-v4",
    ]);
    expect(Fs.compatible(3)).toBe("examplefs-v3");
    expect(Fs.migrators.map((m) => [m.lower, m.upper, m.kind])).toEqual([
      [1, 2, "injective"],
      [2, 3, "iso"],
      [3, 4, "lossy"],
    ]);
    expect(Fs.migrator(2).name).toBe("examplefs v2↔v3");
    expect(Fs.version(1).size).toBe(24);
    expect(Fs.version(1).hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Fs.version(1).layout.root).toBe("fs_state");
    expect(Fs.has(4)).toBe(true);
    expect(Fs.has(5)).toBe(false);
  });

  it("types values per version", () => {
    expectTypeOf(Fs.version(1).codec.decode).returns.toEqualTypeOf<FsV1>();
    expectTypeOf(Fs.migrate(sampleV1(), 1, 4).value).toEqualTypeOf<FsV4>();
  });

  it("parses compatible strings and refuses unknown ones", () => {
    expect(Fs.parseCompatible("examplefs-v2")).toBe(2);
    for (const bad of [
      "examplefs-v5",
      "examplefs-v0",
      "examplefs-v01",
      "other-v1",
      "examplefs",
      "examplefs-v",
      "",
    ]) {
      const e = caught(() => Fs.parseCompatible(bad));
      expect(e).toBeInstanceOf(SchemaUnknownVersionError);
      expect(e.context).toMatchObject({ driver: "examplefs", compatible: bad, known: [1, 2, 3, 4] });
    }
    expect(parseCompatibleString("vfio-pci-v3")).toEqual({ driver: "vfio-pci", version: 3 });
    expect(parseCompatibleString("memfd-v1x")).toBeUndefined();
    expect(compatibleString("memfd", 1)).toBe("memfd-v1");
  });

  it("refuses unknown versions everywhere", () => {
    for (const f of [
      () => Fs.version(0),
      () => Fs.version(5),
      () => Fs.version(1.5),
      () => Fs.compatible(9),
      () => Fs.migrator(4),
      () => Fs.plan(1, 7),
      () => Fs.migrate(sampleV1(), 1, 0 as never),
    ]) {
      expect(errorCode(f)).toBe("SCHEMA_UNKNOWN_VERSION");
    }
  });

  it("plans paths both ways without running anything", () => {
    expect(Fs.plan(1, 4)).toMatchObject({
      kinds: ["injective", "iso", "lossy"],
      lossy: false,
      mayRefuse: false,
    });
    expect(Fs.plan(4, 1)).toMatchObject({
      kinds: ["lossy", "iso", "injective"],
      lossy: true,
      mayRefuse: true,
      steps: [
        { from: 4, to: 3, direction: "down", kind: "lossy" },
        { from: 3, to: 2, direction: "down", kind: "iso" },
        { from: 2, to: 1, direction: "down", kind: "injective" },
      ],
    });
    expect(Fs.plan(3, 2)).toMatchObject({ lossy: false, mayRefuse: false });
    expect(Fs.plan(2, 2).steps).toEqual([]);
  });

  it("migrates up a chain and back down", () => {
    const v1 = sampleV1();
    const up = Fs.migrate(v1, 1, 4);
    expect(up.steps.map((s) => s.kind)).toEqual(["injective", "iso", "lossy"]);
    expect(up.value.inodes[1]).toMatchObject({ kind: 0x10, seals: 0, atime: 0n, name: "vm0.ram" });
    const down = Fs.migrate(up.value, 4, 1, { allowLossy: true });
    expect(down.value).toEqual(v1);
    const v3 = Fs.migrate(v1, 1, 3).value;
    expect(Fs.migrate(v3, 3, 1).value).toEqual(v1);
  });

  it("refuses lossy downgrades unless the policy allows them, before running anything", () => {
    const v4 = Fs.migrate(sampleV1(), 1, 4).value;
    const e = caught(() => Fs.migrate(v4, 4, 3));
    expect(e).toBeInstanceOf(SchemaLossyRefusedError);
    expect(e.context).toMatchObject({ driver: "examplefs", from: 4, to: 3, kinds: ["lossy"] });
    const withAtime: FsV4 = { ...v4, inodes: v4.inodes.map((i) => ({ ...i, atime: 99n })) };
    const lossy = Fs.migrate(withAtime, 4, 3, { allowLossy: true }).value;
    expect(lossy.inodes[0]).not.toHaveProperty("atime");
  });

  it("refuses inexpressible injective downgrades with the field path", () => {
    const v3: FsV3 = Fs.migrate(sampleV1(), 1, 3).value;
    v3.inodes[1]!.seals = 0x3;
    const e = caught(() => Fs.migrate(v3, 3, 1));
    expect(e).toBeInstanceOf(SchemaDowngradeRefusedError);
    expect(e.code).toBe("SCHEMA_DOWNGRADE_REFUSED");
    expect(e.context).toMatchObject({
      driver: "examplefs",
      version: 1,
      from: 2,
      to: 1,
      path: "inodes[1].seals",
    });
  });

  it("validates inputs and migrator outputs", () => {
    expect(errorCode(() => Fs.migrate({ nope: 1 } as never, 1, 2))).toBe("SCHEMA_INVALID_VALUE");
    const A = struct("a", { x: u32() });
    const B = struct("b", { x: u32({ max: 5 }) });
    const broken = versionedSchema("broken", A).next(B, {
      kind: "iso",
      up: (a) => ({ x: a.x + 10 }),
      down: (b) => b,
    });
    const e = caught(() => broken.migrate({ x: 1 }, 1, 2));
    expect(e.code).toBe("SCHEMA_MIGRATION_FAILED");
    expect(e.context).toMatchObject({ driver: "broken", from: 1, to: 2, path: "x" });
    expect(broken.migrate({ x: 1 }, 1, 2, { validate: false }).value).toEqual({ x: 11 });
    const throwing = versionedSchema("throwing", A).next(B, {
      kind: "iso",
      up: () => {
        throw new RangeError("bug");
      },
      down: (b) => b,
    });
    expect(errorCode(() => throwing.migrate({ x: 1 }, 1, 2))).toBe("SCHEMA_MIGRATION_FAILED");
    const refusingUp = versionedSchema("r", A).next(B, {
      kind: "iso",
      up: (_a, ctx) => ctx.refuse("x"),
      down: (b) => b,
    });
    expect(errorCode(() => refusingUp.migrate({ x: 1 }, 1, 2))).toBe("SCHEMA_MIGRATION_FAILED");
  });

  it("is immutable: next() returns a new schema", () => {
    const A = struct("a", { x: u32() });
    const s1 = versionedSchema("imm", A);
    const s2 = s1.next(A, { kind: "iso", up: (a) => a, down: (b) => b });
    expect(s1.latest).toBe(1);
    expect(s2.latest).toBe(2);
    expect(Object.isFrozen(s2)).toBe(true);
  });

  it("refuses bad declarations", () => {
    const A = struct("a", { x: u32() });
    expect(errorCode(() => versionedSchema("bad name", A))).toBe("SCHEMA_DECLARATION");
    expect(errorCode(() => versionedSchema("ok", {} as never))).toBe("SCHEMA_DECLARATION");
    expect(
      errorCode(() =>
        versionedSchema("ok", A).next(A, { kind: "weird" as never, up: (a) => a, down: (b) => b }),
      ),
    ).toBe("SCHEMA_DECLARATION");
    expect(errorCode(() => versionedSchema("ok", A).next(A, { kind: "iso" } as never))).toBe(
      "SCHEMA_DECLARATION",
    );
  });

  it("codecs of a version name the driver and version in errors", () => {
    const e = caught(() => Fs.version(2).codec.decode(new Uint8Array(3)));
    expect(e.context).toMatchObject({ driver: "examplefs", version: 2 });
  });
});
