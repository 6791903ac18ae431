import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  arbitraryFor,
  array,
  arrayPointer,
  canonicalJson,
  cHeader,
  codecFor,
  describeSchema,
  folio,
  folioFieldsOf,
  folioSize,
  formatSchemaDump,
  InMemorySchemaMemory,
  layoutHash,
  layoutOf,
  parseSchemaDump,
  pointer,
  reserved,
  SchemaDeclarationError,
  SchemaInvariantError,
  struct,
  u8,
  u32,
  u64,
  versionedSchema,
} from "../../src/schema/index.js";

const Slot = struct("ring_slot", { buffer: folio({ nullable: true }), len: u32(), _r: reserved(4) });
const Ring = struct("ring_state", {
  id: u32(),
  nr_slots: u32({ max: 8 }),
  page: folio(),
  huge: folio({ order: 9 }),
  slots: array(Slot, 2),
  extra: arrayPointer(Slot, { count: "nr_slots" }),
  table: pointer(struct("ring_table", { root: folio({ order: 1 }) })),
  flags: arrayPointer(u8({ mask: 0x5 }), { count: "nr_slots" }),
});

describe("folio(): a page or folio preserved in place", () => {
  it("is a u64 on the wire with the folio alignment as its mask, and says so in the layout", () => {
    const f = folio({ order: 9 });
    expect(f).toMatchObject({ kind: "scalar", scalar: "u64", folio: { order: 9, nullable: false } });
    expect(f.invariants.mask).toBe(((1n << 64n) - 1n) & ~(BigInt(folioSize(9)) - 1n));
    const field = layoutOf(Ring)
      .structs.find((s) => s.name === "ring_state")!
      .fields.find((x) => x.name === "huge")!;
    expect(field.type).toMatchObject({ kind: "scalar", scalar: "u64", folio: { order: 9, nullable: false } });
    expect(() => folio({ order: 19 })).toThrow(SchemaDeclarationError);
    expect(() => folio({ order: 1.5 })).toThrow(SchemaDeclarationError);
    expect(() => folio({ nullable: 1 as never })).toThrow(SchemaDeclarationError);
  });

  it("leaves the layouts (and lock hashes) of schemas without folio fields as they were", () => {
    // A u64 field's layout has no folio key; the same struct with a folio field hashes differently.
    const plain = struct("plain_v1", { page: u64() });
    expect(layoutOf(plain).structs[0]!.fields[0]!.type).toEqual({ kind: "scalar", scalar: "u64" });
    // The locks in packages/core and examples/counter-ring (checked by their tests) pin the rest.
    expect(canonicalJson(layoutOf(plain).structs)).toBe(
      '[{"align":8,"fields":[{"align":8,"name":"page","offset":0,"size":8,"type":{"kind":"scalar","scalar":"u64"}}],"name":"plain_v1","packed":false,"size":8}]',
    );
    expect(layoutHash(struct("plain_v1", { page: folio() }))).not.toBe(layoutHash(plain));
  });

  it("is never copied: encoding allocates nothing, and a misaligned address is refused both ways", () => {
    const Page = struct("page_v1", { page: folio() });
    const codec = codecFor(Page);
    const memory = new InMemorySchemaMemory();
    const bytes = codec.encode({ page: 0x20_3000n }, memory);
    expect(bytes).toHaveLength(8);
    expect(memory.allocatedBytes).toBe(0);
    expect(codec.decode(bytes, memory)).toEqual({ page: 0x20_3000n });
    expect(() => codec.encode({ page: 0x20_3008n }, memory)).toThrow(SchemaInvariantError);
    new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(0, 0x20_3800n, true);
    expect(() => codec.decode(bytes, memory)).toThrow(SchemaInvariantError);
  });

  it("folioFieldsOf finds every folio field of a value, with its path (property)", () => {
    fc.assert(
      fc.property(arbitraryFor(Ring), (value) => {
        const refs = folioFieldsOf(Ring, value);
        const paths = refs.map((r) => r.path);
        const expected = [
          "page",
          "huge",
          "slots[0].buffer",
          "slots[1].buffer",
          ...value.extra.map((_, i) => `extra[${i}].buffer`),
          "table.root",
        ];
        expect(paths).toEqual(expected);
        for (const r of refs) {
          expect(r.phys % BigInt(folioSize(r.spec.order))).toBe(0n);
          expect(r.spec.nullable).toBe(r.path.endsWith("buffer"));
        }
      }),
      { numRuns: 100 },
    );
    expect(folioFieldsOf(struct("none_v1", { a: u64() }), { a: 1n })).toEqual([]);
  });

  it("round-trips through the JSON dump", () => {
    const schema = versionedSchema("ring", Ring);
    const text = formatSchemaDump(describeSchema(schema));
    expect(parseSchemaDump(text)).toEqual(JSON.parse(text));
    expect(cHeader(parseSchemaDump(text))).toBe(cHeader(schema));
  });
});

describe("the C header of folio fields and counted arrays", () => {
  const header = cHeader(versionedSchema("ring", Ring));
  const GCC = process.env["CC"] ?? "/usr/bin/gcc";
  const work = mkdtempSync(join(tmpdir(), "liveupdate-folio-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("says a folio field is in place, not in the handover, with its order and size", () => {
    expect(header).toMatch(
      /\tuint64_t page; +\/\* @8: phys addr of a folio of order 0 \(4 KiB\) preserved in place, not copied into the handover \(never 0\); mask 0xfffffffffffff000 \*\//,
    );
    expect(header).toMatch(/uint64_t huge; +\/\* @16: phys addr of a folio of order 9 \(2 MiB\)/);
    expect(header).toMatch(
      /uint64_t buffer; +\/\* @0: phys addr of a folio of order 0 \(4 KiB\) .*\(0 = none\)/,
    );
    expect(header).toContain("#define RING_STATE_PAGE_MASK UINT64_C(0xfffffffffffff000)");
  });

  it("prints array-element masks and the exact rule for empty counted arrays", () => {
    expect(header).toMatch(
      /uint64_t flags; +\/\* @\d+: phys addr of uint8_t\[nr_slots\], 0 if and only if nr_slots == 0; each element: mask 0x5 \*\//,
    );
    expect(header).toContain("#define RING_STATE_FLAGS_MASK 0x5u");
    expect(header).not.toContain("0 when");
  });

  it("compiles with gcc -std=c11 -Wall -Wextra -Werror, and the mask macros mean what they say", () => {
    if (!existsSync(GCC)) throw new Error(`gcc not found at ${GCC} (install gcc or set CC)`);
    writeFileSync(join(work, "ring.h"), header);
    writeFileSync(
      join(work, "ring.c"),
      [
        '#include "ring.h"',
        "#include <stdio.h>",
        "int main(void) {",
        "\tstruct ring_state s = { .page = 0x203000 };",
        '\tprintf("%d %d\\n", (s.page & ~RING_STATE_PAGE_MASK) == 0, (RING_STATE_FLAGS_MASK & 0x2) == 0);',
        "\treturn 0;",
        "}",
        "",
      ].join("\n"),
    );
    execFileSync(GCC, ["-std=c11", "-Wall", "-Wextra", "-Werror", "-o", "ring", "ring.c"], { cwd: work });
    expect(execFileSync(join(work, "ring"), { encoding: "utf8" })).toBe("1 1\n");
  });
});
