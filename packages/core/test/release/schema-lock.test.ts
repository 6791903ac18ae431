import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  assertSchemaLock,
  formatSchemaLock,
  LUO_SCHEMA,
  SCHEMA_LOCK_FILE,
  updateSchemaLock,
} from "@liveupdate/core";
import { describe, it } from "vitest";

/**
 * Forgot-to-bump check for core's own released handover formats. After adding a new version, run
 * `UPDATE_SCHEMA_LOCK=1 npx vitest run --project core packages/core/test/release` and commit the lock.
 */
const lockPath = join(import.meta.dirname, "..", "..", SCHEMA_LOCK_FILE);
const released = [LUO_SCHEMA];

describe(`packages/core/${SCHEMA_LOCK_FILE}`, () => {
  it("matches the layout of every released version", () => {
    if (process.env.UPDATE_SCHEMA_LOCK === "1") {
      writeFileSync(lockPath, formatSchemaLock(updateSchemaLock(released)));
    }
    assertSchemaLock(released, readFileSync(lockPath, "utf8"));
  });
});
