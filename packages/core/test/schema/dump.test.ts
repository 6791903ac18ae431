import { describe, expect, it } from "vitest";
import {
  describeSchema,
  formatSchemaDump,
  parseSchemaDump,
  SCHEMA_DUMP_FORMAT,
  SchemaDumpInvalidError,
} from "../../src/schema/dump/index.js";
import { layoutHash } from "../../src/schema/index.js";
import { DeviceSchema, DevV1, DevV2 } from "./fixtures/cheader-schema.js";

describe("schema JSON dump", () => {
  const dump = describeSchema(DeviceSchema);
  const text = formatSchemaDump(dump);

  it("describes every version with compatible string, size, layout hash and layout", () => {
    expect(dump.format).toBe(SCHEMA_DUMP_FORMAT);
    expect(dump.driver).toBe("test-dev");
    expect(dump.versions.map((v) => [v.version, v.compatible, v.size])).toEqual([
      [1, "test-dev-v1", 136],
      [2, "test-dev-v2", 216],
    ]);
    expect(dump.versions[0]!.hash).toBe(layoutHash(DevV1));
    expect(dump.versions[1]!.hash).toBe(layoutHash(DevV2));
    expect(dump.migrators).toEqual([{ from: 1, to: 2, kind: "injective" }]);
  });

  it("is stable and diffable: fixed key order, one line per field, same text after a JSON round trip", () => {
    expect(formatSchemaDump(describeSchema(DeviceSchema))).toBe(text);
    expect(formatSchemaDump(parseSchemaDump(text))).toBe(text);
    // Re-ordering keys (e.g. a tool rewrote the file) does not change the formatted text.
    const shuffled = JSON.parse(text, (_k, v: unknown) =>
      v !== null && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v as Record<string, unknown>).reverse())
        : v,
    );
    expect(formatSchemaDump(parseSchemaDump(shuffled))).toBe(text);
    expect(text.endsWith("}\n")).toBe(true);
    const lines = text.split("\n");
    expect(lines.map((l) => l.trim())).toContain(
      '{ "name": "temp", "offset": 6, "size": 2, "align": 2, "type": { "kind": "scalar", "scalar": "i16", "invariants": { "min": "-40", "max": "125" } } },',
    );
    expect(lines.map((l) => l.trim())).toContain(
      '{ "name": "nr_extents", "offset": 112, "size": 4, "align": 4, "type": { "kind": "scalar", "scalar": "u32", "invariants": { "max": "64" } }, "derived": { "role": "count", "of": ["extents"] } },',
    );
    expect(lines.filter((l) => l.includes('"name": "nr_extents"'))).toHaveLength(2);
    expect(lines).toContain('    { "from": 1, "to": 2, "kind": "injective" }');
    expect(text.indexOf('"format"')).toBeLessThan(text.indexOf('"driver"'));
  });

  it("rejects malformed dumps with SCHEMA_DUMP_INVALID", () => {
    const bad: unknown[] = [
      "not json",
      { format: "other" },
      { ...dump, driver: "" },
      { ...dump, versions: [dump.versions[1]] },
      { ...dump, versions: [{ ...dump.versions[0], layout: { format: "x" } }] },
      { ...dump, migrators: [{ from: 1, to: 2, kind: "maybe" }] },
    ];
    for (const input of bad) {
      let caught: unknown;
      try {
        parseSchemaDump(input);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(SchemaDumpInvalidError);
      expect((caught as SchemaDumpInvalidError).code).toBe("SCHEMA_DUMP_INVALID");
    }
  });
});
