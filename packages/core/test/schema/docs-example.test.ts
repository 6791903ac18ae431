import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Memfd, schemaV1V2V1Example } from "../../../../docs/examples/schema-v1-v2-v1.js";

describe("docs/examples/schema-v1-v2-v1.ts (the schemas concepts page)", () => {
  const lines: string[] = [];
  const result = schemaV1V2V1Example((l) => lines.push(l));

  it("upgrades v1 → v2 and downgrades back to v1 without losing anything", () => {
    expect(result.upgradeVersion).toBe(1);
    expect(result.afterUpgrade).toEqual({
      name: "guest-ram",
      size: 0x20_0000n,
      flags: 1,
      extents: [{ phys: 0x1_0000_0000n, pages: 512 }],
      seals: 0,
    });
    expect(result.downgradeVersion).toBe(1);
    expect(result.downgradePath).toEqual(["down:injective"]);
    expect(result.afterDowngrade).toEqual({
      name: "guest-ram",
      size: 0x20_0000n,
      flags: 1,
      extents: [{ phys: 0x1_0000_0000n, pages: 512 }],
    });
  });

  it("refuses to drop seals on the way down, naming the field", () => {
    expect(result.refusal).toEqual({ code: "SCHEMA_DOWNGRADE_REFUSED", path: "seals" });
  });

  it("prints the matrix, the dump summary and a lock without violations", () => {
    expect(result.matrix).toContain("6.16.0-lu1 -> 6.16.0-lu2 (upgrade): ok");
    expect(result.matrix).toContain("6.16.0-lu2 -> 6.16.0-lu1 (downgrade): ok");
    expect(lines.some((l) => l.startsWith("dump: memfd-v1 56 bytes, memfd-v2 64 bytes"))).toBe(true);
    expect(result.lockViolations).toBe(0);
    expect(Memfd.latest).toBe(2);
  });

  it("generates a header that compiles", () => {
    expect(result.header).toContain("struct memfd_state_v2 {");
    const gcc = process.env["CC"] ?? "/usr/bin/gcc";
    if (!existsSync(gcc)) throw new Error(`gcc not found at ${gcc}; install gcc (CI does) or set CC`);
    const dir = mkdtempSync(join(tmpdir(), "liveupdate-docs-"));
    try {
      writeFileSync(join(dir, "memfd.h"), result.header);
      writeFileSync(
        join(dir, "main.c"),
        '#include "memfd.h"\nint main(void) { return MEMFD_LATEST_VERSION == 2 ? 0 : 1; }\n',
      );
      execFileSync(gcc, ["-std=c11", "-Wall", "-Werror", "-o", join(dir, "main"), join(dir, "main.c")], {
        stdio: "pipe",
      });
      execFileSync(join(dir, "main"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
