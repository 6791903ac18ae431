import { describe, expect, it } from "vitest";
import { AbiDriftError, assertAbi, LiveUpdateError } from "../../src/index.js";

describe("assertAbi (static_assert for pinned wire formats)", () => {
  it("passes when every pinned constant has its required value", () => {
    expect(() => assertAbi("kho", [["sizeof(struct kho_scratch)", 16, 16]])).not.toThrow();
  });

  it("names the first constant that drifted, with a stable code", () => {
    let caught: unknown;
    try {
      assertAbi("fdt", [
        ["FDT_TAGSIZE", 4, 4],
        ["FDT_PROP_HEADER_SIZE", 8, 12],
        ["FDT_RESERVE_ENTRY_SIZE", 15, 16],
      ]);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AbiDriftError);
    expect(caught).toBeInstanceOf(LiveUpdateError);
    const error = caught as AbiDriftError;
    expect(error.code).toBe("ABI_DRIFT");
    expect(error.context).toEqual({ area: "fdt", field: "FDT_PROP_HEADER_SIZE", actual: 8, expected: 12 });
    expect(error.message).toBe("fdt ABI drift: FDT_PROP_HEADER_SIZE is 8, expected 12");
  });
});
