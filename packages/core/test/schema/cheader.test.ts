import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cHeader, planCStructs } from "../../src/schema/dump/cheader.js";
import { describeSchema, formatSchemaDump, parseSchemaDump } from "../../src/schema/dump/json.js";
import {
  InMemorySchemaMemory,
  struct,
  u8,
  u16,
  u32,
  valuesEqual,
  versionedSchema,
} from "../../src/schema/index.js";
import { cPrinterProgram, expectedLines } from "./fixtures/c-printer.js";
import { DeviceSchema, sampleV1, sampleV2 } from "./fixtures/cheader-schema.js";

const GCC = process.env["CC"] ?? "/usr/bin/gcc";
const CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror"];

function requireGcc(): void {
  if (!existsSync(GCC)) {
    throw new Error(
      `gcc not found at ${GCC}: the C header test compiles generated headers and needs a C11 compiler ` +
        "(install gcc, e.g. `apt-get install gcc`, or set CC)",
    );
  }
}

const work = mkdtempSync(join(tmpdir(), "liveupdate-cheader-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function gcc(args: string[]): void {
  try {
    execFileSync(GCC, [...CFLAGS, ...args], { cwd: work, stdio: "pipe" });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`gcc ${args.join(" ")} failed:\n${err.stderr?.toString() ?? err.message}`);
  }
}

describe("C header generator", () => {
  const header = cHeader(DeviceSchema);

  it("emits one struct per distinct layout, versioning names only where versions differ", () => {
    const plan = planCStructs(describeSchema(DeviceSchema));
    expect(plan.structs.map((s) => s.cName)).toEqual([
      "dev_queue_v1",
      "dev_extent",
      "dev_node",
      "dev_state_v1",
      "dev_queue_v2",
      "dev_legacy_hdr",
      "dev_state_v2",
    ]);
    expect(header).toContain('#define TEST_DEV_V1_COMPATIBLE "test-dev-v1"');
    expect(header).toContain('#define TEST_DEV_V2_COMPATIBLE "test-dev-v2"');
    expect(header).toMatch(/#ifndef LIVEUPDATE_SCHEMA_TEST_DEV_H\n#define LIVEUPDATE_SCHEMA_TEST_DEV_H\n/);
    expect(header).toContain("#endif /* LIVEUPDATE_SCHEMA_TEST_DEV_H */");
    expect(header).toMatch(/\tchar name\[16\]; +\/\* @8: UTF-8, NUL-terminated/);
    expect(header).toMatch(/\tuint64_t head; +\/\* @128: phys addr of struct dev_node \(0 = NULL\)/);
    expect(header).toMatch(/\tuint64_t extents; +\/\* @104: phys addr of struct dev_extent\[nr_extents\]/);
    expect(header).toMatch(/\tuint16_t matrix\[2\]\[3\]; +\/\* @200 \*\//);
    expect(header).toMatch(/\tstruct dev_queue_v2 queues\[2\]; +\/\* @72 \*\//);
    expect(header).toContain("#define DEV_STATE_V2_SEALS_MASK 0xfu");
    expect(header).toContain("#define DEV_STATE_V1_KIND_DISK 2u");
    expect(header).toContain("#define DEV_STATE_V1_TEMP_MIN (-40)");
    expect(header).toContain(
      '_Static_assert(offsetof(struct dev_state_v2, hdr) == 164, "offsetof(struct dev_state_v2, hdr)");',
    );
    expect(header).toContain(
      '_Static_assert(sizeof(struct dev_state_v1) == 136, "sizeof(struct dev_state_v1)");',
    );
  });

  it("uses __attribute__((packed)) only where natural C alignment would not reproduce the layout", () => {
    expect(header.match(/__attribute__\(\(packed/g)).toHaveLength(1);
    expect(header).toMatch(/struct dev_legacy_hdr \{[^}]*\} __attribute__\(\(packed\)\);/);
    // Declared packed, but naturally aligned anyway: no attribute needed.
    const aligned = struct("aligned_pk", { a: u32(), b: u16(), c: u16() }, { packed: true });
    // A non-packed struct embedding a packed one at an offset C would pad: the parent needs it.
    const inner = struct("inner_pk", { a: u32(), b: u8() }, { packed: true });
    const outer = struct("outer", { x: u32(), t: u8(), inner, y: u16() });
    const h = cHeader(
      versionedSchema("pk", aligned).next(outer, {
        kind: "lossy",
        up: () => ({ x: 0, t: 0, inner: { a: 0, b: 0 }, y: 0 }),
        down: () => ({ a: 0, b: 0, c: 0 }),
      }),
    );
    expect(h).toMatch(/struct aligned_pk \{[^}]*\};/);
    expect(h).toMatch(/struct inner_pk \{[^}]*\} __attribute__\(\(packed\)\);/);
    expect(h).toMatch(/struct outer \{[^}]*\};/);
    requireGcc();
    writeFileSync(join(work, "pk.h"), h);
    writeFileSync(join(work, "pk.c"), '#include "pk.h"\nint main(void) { return 0; }\n');
    gcc(["-o", "pk", "pk.c"]);
  });

  it("compiles with gcc -std=c11 -Wall -Werror and a C reader prints the values our codec encoded", () => {
    requireGcc();
    writeFileSync(join(work, "test_dev.h"), header);
    const dump = describeSchema(DeviceSchema);
    const cases = [
      { version: 1, value: sampleV1 },
      { version: 2, value: sampleV2 },
      { version: 2, value: DeviceSchema.migrate(sampleV1, 1, 2).value },
    ] as const;
    cases.forEach(({ version, value }, i) => {
      const memory = new InMemorySchemaMemory();
      const v = DeviceSchema.version(version);
      const bytes = (v.codec.encode as (x: unknown, m: InMemorySchemaMemory) => Uint8Array)(value, memory);
      expect(
        valuesEqual(
          (v.codec.decode as (b: Uint8Array, m: InMemorySchemaMemory) => unknown)(bytes, memory),
          value,
        ),
      ).toBe(true);
      const base = 0x1000_0000;
      const image = memory.allocatedBytes > 0 ? memory.read(base, memory.allocatedBytes) : new Uint8Array(0);
      writeFileSync(join(work, `root${i}.bin`), bytes);
      writeFileSync(join(work, `image${i}.bin`), image);
      writeFileSync(join(work, `print_v${version}.c`), cPrinterProgram(dump, version, "test_dev.h"));
      gcc(["-o", `print_v${version}`, `print_v${version}.c`]);
      const stdout = execFileSync(
        join(work, `print_v${version}`),
        [`root${i}.bin`, `image${i}.bin`, String(base)],
        {
          cwd: work,
          encoding: "utf8",
        },
      );
      const lines = stdout.trimEnd().split("\n");
      expect(lines).toEqual(expectedLines(v.layout, value));
      expect(lines.length).toBeGreaterThan(30);
    });
    // Spot checks that the comparison covers what matters.
    const v1 = expectedLines(DeviceSchema.version(1).layout, sampleV1);
    expect(v1).toContain("id=18364758544493064720");
    expect(v1).toContain("temp=-12");
    expect(v1).toContain("head*.next*.next*.label=third");
    expect(v1).toContain("head*.next*.next*.next=NULL");
    expect(v1).toContain("extents[1].phys=140737488355328");
    expect(v1).toContain("nr_extents=2");
    expect(v1).toContain("blob=010203fa0009");
    const v2 = expectedLines(DeviceSchema.version(2).layout, sampleV2);
    expect(v2).toContain("offset=-9223372036854775808");
    expect(v2).toContain("counter*=18446744073709551615");
    expect(v2).toContain("names[1]=héllo");
    expect(v2).toContain("hdr.value=3405705229");
    expect(v2).toContain("matrix[1][0]=65535");
  });

  it("generates the same header from a committed JSON dump as from the schema", () => {
    const dumpText = formatSchemaDump(describeSchema(DeviceSchema));
    expect(cHeader(parseSchemaDump(dumpText))).toBe(header);
  });
});
