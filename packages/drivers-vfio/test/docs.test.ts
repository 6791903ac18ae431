/** Keeps docs/guides/vfio.md honest: its phase table is what `renderPhaseTable` generates. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderPhaseTable } from "@liveupdate/core";
import { describe, expect, it } from "vitest";
import { VfioPciDriver } from "../src/index.js";

const guide = fileURLToPath(new URL("../../../docs/guides/vfio.md", import.meta.url));
const normalize = (text: string) => text.replace(/\s+/g, "").replace(/-{3,}/g, "---");

describe("the vfio-pci guide", () => {
  it("shows the generated phase table", () => {
    const lines = readFileSync(guide, "utf8").split("\n");
    const start = lines.indexOf("<!-- generated: phase-table -->") + 1;
    let end = start;
    while (end < lines.length && lines[end]!.startsWith("|")) end++;
    expect(start).toBeGreaterThan(0);
    expect(normalize(lines.slice(start, end).join("\n"))).toBe(normalize(renderPhaseTable(VfioPciDriver)));
  });
});
