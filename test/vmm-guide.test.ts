import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { vmmUpdateExample } from "../docs/examples/vmm-update.js";

const root = fileURLToPath(new URL("../", import.meta.url));
const normalize = (text: string) => text.replace(/\s+/g, " ").trim();

describe("docs/guides/vmm-and-demo.md", () => {
  it("shows the example's code as it is in docs/examples/vmm-update.ts", () => {
    const example = readFileSync(`${root}docs/examples/vmm-update.ts`, "utf8");
    const region = example.slice(
      example.indexOf("// #region example") + 18,
      example.indexOf("// #endregion example"),
    );
    const guide = readFileSync(`${root}docs/guides/vmm-and-demo.md`, "utf8");
    const block = guide.slice(
      guide.indexOf("```ts\n") + 6,
      guide.indexOf("```", guide.indexOf("```ts\n") + 6),
    );
    expect(normalize(block)).toBe(normalize(region));
  });

  it("runs: the VMs resume on the new kernel with their memory intact", () => {
    const r = vmmUpdateExample();
    expect(r).toMatchObject({ identical: true, resumed: ["web", "db"] });
    expect(r.blackoutNs).toBeGreaterThan(0);
  });
});
