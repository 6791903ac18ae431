/** Keeps docs/guides/guestmemfs.md honest: its phase table is what `renderPhaseTable` generates. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { phaseTableDrift } from "@liveupdate/core";
import { describe, expect, it } from "vitest";
import { GuestmemfsDriver } from "../src/index.js";

const guide = fileURLToPath(new URL("../../../docs/guides/guestmemfs.md", import.meta.url));

describe("the guestmemfs guide", () => {
  it("shows the generated phase table", () => {
    expect(
      phaseTableDrift(readFileSync(guide, "utf8"), GuestmemfsDriver, { sessionOperations: true }),
    ).toBeUndefined();
  });
});
