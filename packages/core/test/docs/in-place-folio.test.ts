import { describe, expect, it } from "vitest";
import { inPlaceFolioExample } from "../../../../docs/examples/in-place-folio.js";

describe("docs/examples/in-place-folio.ts (the guide's folio example)", () => {
  it("keeps the register page in place and hands the counter over", () => {
    expect(inPlaceFolioExample()).toEqual({ samePage: true, contents: 0x5a, opens: 3 });
  });
});
