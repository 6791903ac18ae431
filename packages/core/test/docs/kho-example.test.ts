import { describe, expect, it } from "vitest";
import { khoHandoverExample } from "../../../../docs/examples/kho-handover.js";

describe("docs/concepts/kho.md example", () => {
  it("runs and hands the folio and subtree over", () => {
    expect(khoHandoverExample()).toEqual({ survived: true, answer: 42 });
  });
});
