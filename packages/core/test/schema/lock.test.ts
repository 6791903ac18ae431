import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { layoutHash, struct, u16, u32, u64, versionedSchema } from "../../src/schema/index.js";
import {
  assertSchemaLock,
  checkSchemaLock,
  formatSchemaLock,
  parseSchemaLock,
  SCHEMA_LOCK_FORMAT,
  SchemaLockInvalidError,
  SchemaLockViolationError,
  unreleasedVersions,
  updateSchemaLock,
} from "../../src/schema/lock/index.js";
import { DeviceSchema } from "./fixtures/cheader-schema.js";

const ExtentV1 = struct("extent", { phys: u64(), pages: u32() });
const V1 = struct("memfd_state", { size: u64(), nr: u32(), flags: u32({ mask: 0x1 }) });
const V2 = struct("memfd_state", {
  size: u64(),
  nr: u32(),
  flags: u32({ mask: 0x1 }),
  seals: u32(),
  _pad: u32(),
});
const Memfd1 = versionedSchema("memfd", V1);
const Memfd2 = Memfd1.next(V2, {
  kind: "injective",
  up: (v1) => ({ ...v1, seals: 0, _pad: 0 }),
  down: ({ seals, _pad, ...v1 }, ctx) => (seals === 0 ? v1 : ctx.refuse("seals")),
});
const Other = versionedSchema("extentd", struct("extentd_state", { e: ExtentV1 }));

describe("schema lock", () => {
  const released = formatSchemaLock(updateSchemaLock([Memfd1, Other]));

  it("records the layout hash of every released version, stably formatted", () => {
    const lock = parseSchemaLock(released);
    expect(lock.format).toBe(SCHEMA_LOCK_FORMAT);
    expect(lock.versions).toEqual({ "extentd-v1": Other.version(1).hash, "memfd-v1": layoutHash(V1) });
    expect(released).toBe(formatSchemaLock(updateSchemaLock([Other, Memfd1])));
    expect(released.endsWith("}\n")).toBe(true);
    expect(checkSchemaLock([Memfd1, Other], released)).toEqual([]);
  });

  it("accepts a new version: released ones are unchanged, the new one is unreleased until the release step", () => {
    expect(checkSchemaLock([Memfd2, Other], released)).toEqual([]);
    expect(unreleasedVersions([Memfd2, Other], released)).toEqual(["memfd-v2"]);
    const next = updateSchemaLock([Memfd2, Other], released);
    expect(Object.keys(next.versions)).toEqual(["extentd-v1", "memfd-v1", "memfd-v2"]);
    expect(unreleasedVersions([Memfd2, Other], next)).toEqual([]);
  });

  it("catches a released version whose layout changed without a new version", () => {
    // Someone "just added a field" to v1 instead of declaring v2.
    const sneaky = versionedSchema(
      "memfd",
      struct("memfd_state", { size: u64(), nr: u32(), flags: u32({ mask: 0x3 }) }),
    );
    const violations = checkSchemaLock([sneaky, Other], released);
    expect(violations).toEqual([
      expect.objectContaining({
        kind: "hash-changed",
        driver: "memfd",
        version: 1,
        compatible: "memfd-v1",
        lockedHash: layoutHash(V1),
        currentHash: sneaky.version(1).hash,
      }),
    ]);
    expect(violations[0]!.message).toContain("declare the change as memfd-v2");
    expect(() => assertSchemaLock([sneaky, Other], released)).toThrow(SchemaLockViolationError);
    try {
      assertSchemaLock([sneaky, Other], released);
    } catch (e) {
      expect((e as SchemaLockViolationError).code).toBe("SCHEMA_LOCK_VIOLATION");
      expect((e as SchemaLockViolationError).context).toMatchObject({ driver: "memfd", version: 1 });
    }
    // The release step refuses too, unless the break is deliberately accepted.
    expect(() => updateSchemaLock([sneaky, Other], released)).toThrow(SchemaLockViolationError);
    expect(updateSchemaLock([sneaky, Other], released, { acceptViolations: true }).versions["memfd-v1"]).toBe(
      sneaky.version(1).hash,
    );
  });

  it("catches a change deep inside a pointee or nested struct of a released version", () => {
    const ExtentWide = struct("extent", { phys: u64(), pages: u32(), order: u16() });
    const changed = versionedSchema("extentd", struct("extentd_state", { e: ExtentWide }));
    expect(checkSchemaLock([Memfd1, changed], released).map((v) => v.compatible)).toEqual(["extentd-v1"]);
  });

  it("reports removed versions and schemas missing from the check", () => {
    const lock = formatSchemaLock(updateSchemaLock([Memfd2, Other]));
    expect(checkSchemaLock([Memfd1], lock).map((v) => [v.kind, v.compatible])).toEqual([
      ["schema-missing", "extentd-v1"],
      ["version-removed", "memfd-v2"],
    ]);
  });

  it("rejects malformed lock files", () => {
    for (const bad of [
      "{",
      "[]",
      '{"format":"x","versions":{}}',
      `{"format":"${SCHEMA_LOCK_FORMAT}","versions":{"memfd":"00"}}`,
    ]) {
      expect(() => checkSchemaLock([Memfd1], bad)).toThrow(SchemaLockInvalidError);
    }
    expect(() => updateSchemaLock([Memfd1, Memfd2])).toThrow(SchemaLockInvalidError);
  });

  it("holds for the committed lock of the test device schema", () => {
    const committed = readFileSync(new URL("./fixtures/test-dev.schema-lock.json", import.meta.url), "utf8");
    expect(checkSchemaLock([DeviceSchema], committed)).toEqual([]);
  });
});
