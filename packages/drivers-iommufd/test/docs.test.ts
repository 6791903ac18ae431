/** Keeps docs/guides/iommufd.md honest: its phase table is what `renderPhaseTable` generates. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { phaseTableDrift } from "@liveupdate/core";
import { describe, expect, it } from "vitest";
import { IommufdDriver } from "../src/index.js";

const guide = fileURLToPath(new URL("../../../docs/guides/iommufd.md", import.meta.url));

describe("the iommufd guide", () => {
  it("shows the generated phase table", () => {
    expect(phaseTableDrift(readFileSync(guide, "utf8"), IommufdDriver)).toBeUndefined();
  });
});
