import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dmaEngineAbi as abi, PREEMPTION_POINTS } from "@liveupdate/core";
import { describe, expect, it } from "vitest";

const DOC = readFileSync(
  fileURLToPath(new URL("../../../../docs/concepts/hardware.md", import.meta.url)),
  "utf8",
);

/** First-column code spans of the markdown table under `heading`. */
function firstColumn(heading: string): string[] {
  const section = DOC.slice(DOC.indexOf(heading));
  const table = section.slice(section.indexOf("\n|")).split("\n\n")[0]!;
  return [...table.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]!);
}

describe("docs/concepts/hardware.md", () => {
  it("lists exactly the preemption points the code defines, in order", () => {
    expect(firstColumn("### The preemption points")).toEqual([...PREEMPTION_POINTS]);
  });

  it("documents every DMA engine register at its offset", () => {
    const rows = firstColumn("**Registers** (BAR 0");
    const documented = rows.map((offset) => Number(offset));
    expect(documented).toEqual(Object.values(abi.REG));
  });
});
