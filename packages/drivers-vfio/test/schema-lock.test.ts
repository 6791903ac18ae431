import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertSchemaLock, formatSchemaLock, SCHEMA_LOCK_FILE, updateSchemaLock } from "@liveupdate/core";
import { describe, it } from "vitest";
import { PciSerSchema, VfioPciSchema } from "../src/index.js";

/**
 * Forgot-to-bump check: every released vfio-pci layout is pinned in schema-lock.json. After adding
 * a version, refresh with `UPDATE_SCHEMA_LOCK=1 npx vitest run --project drivers-vfio schema-lock`.
 */
const released = [VfioPciSchema, PciSerSchema];
const lockPath = join(import.meta.dirname, "..", SCHEMA_LOCK_FILE);

describe(SCHEMA_LOCK_FILE, () => {
  it("matches the layout of every released vfio-pci and iommu-liveupdate version", () => {
    if (process.env.UPDATE_SCHEMA_LOCK === "1")
      writeFileSync(lockPath, formatSchemaLock(updateSchemaLock(released)));
    assertSchemaLock(released, readFileSync(lockPath, "utf8"));
  });
});
