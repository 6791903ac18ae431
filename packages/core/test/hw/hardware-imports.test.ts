import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../../src");
const HW = join(SRC, "hw");
/** Layers above the hardware (DESIGN.md §3.3, §4): hardware never imports them. */
const FORBIDDEN = ["kernel", "kho", "luo", "driver", "testkit"];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith(".ts") ? [path] : [];
  });
}

/** Every module specifier of a file (static and dynamic imports, re-exports), as TypeScript parses them. */
function specifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** The layers of `src/` a file's imports reach, or the packages it names. */
function violations(file: string, text: string): string[] {
  const out: string[] = [];
  for (const spec of specifiers(text)) {
    if (spec.startsWith("@liveupdate/"))
      out.push(`${spec} (a package: hardware imports only relative modules)`);
    if (!spec.startsWith(".")) continue;
    const target = relative(SRC, resolve(dirname(file), spec));
    const layer = target.split(/[\\/]/)[0]!;
    if (FORBIDDEN.includes(layer)) out.push(`${spec} (${layer}/)`);
  }
  return out;
}

describe("the hardware layer", () => {
  it("imports nothing from kernel, KHO, LUO, driver or testkit code", () => {
    const files = sources(HW);
    expect(files.length).toBeGreaterThan(20);
    const found = files.flatMap((f) =>
      violations(f, readFileSync(f, "utf8")).map((v) => `${relative(SRC, f)}: ${v}`),
    );
    expect(found).toEqual([]);
  });

  it("has a checker that sees every kind of import (so the test above can fail)", () => {
    const file = join(HW, "x.ts");
    const text = [
      'import { Kernel } from "../kernel/kernel.js";',
      'import type { Luo } from "../luo/orchestrator.js";',
      'export { Kho } from "../kho/kho.js";',
      'const d = await import("../driver/index.js");',
      'import "../testkit/index.js";',
      'import { x } from "@liveupdate/core";',
      'import { hex } from "../common/errors.js";',
      'import { PciBus } from "./pci/bus.js";',
    ].join("\n");
    expect(violations(file, text)).toHaveLength(6);
  });
});
