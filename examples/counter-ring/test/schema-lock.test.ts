import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertSchemaLock, formatSchemaLock, SCHEMA_LOCK_FILE, updateSchemaLock } from "@liveupdate/core";
import { describe, it } from "vitest";
import { CounterRingSchema, CounterRingTableSchema } from "../src/index.js";

/**
 * Forgot-to-bump check: every released version's layout is pinned in schema-lock.json. After adding
 * a version, refresh with `UPDATE_SCHEMA_LOCK=1 npx vitest run --project example-counter-ring`.
 */
const released = [CounterRingSchema, CounterRingTableSchema];
const lockPath = join(import.meta.dirname, "..", SCHEMA_LOCK_FILE);

describe(SCHEMA_LOCK_FILE, () => {
  it("matches the layout of every released counter-ring version", () => {
    if (process.env.UPDATE_SCHEMA_LOCK === "1") {
      writeFileSync(lockPath, formatSchemaLock(updateSchemaLock(released)));
    }
    assertSchemaLock(released, readFileSync(lockPath, "utf8"));
  });
});
