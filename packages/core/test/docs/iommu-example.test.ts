import { describe, expect, it } from "vitest";
import { iommuExample } from "../../../../docs/examples/iommu-second-stage.js";

describe("docs/concepts/iommu.md example", () => {
  it("translates, keeps a stale translation until invalidated, then the new one", () => {
    expect(iommuExample()).toEqual({ phys: 0x2000_0123, stale: 0x2000_0123, fresh: 0x3000_0123 });
  });
});
