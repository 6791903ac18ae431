import { DriverRegistry, type VersionedSchema } from "@liveupdate/core";
import type { ShippedBuilds } from "../builds/shipped.js";
import type { StateSchemas } from "./registry.js";

/** The schemas of every driver and FLB of the given builds (the first build that has a version wins). */
export function stateSchemas(sets: readonly ShippedBuilds[]): StateSchemas {
  const byName = new Map<string, VersionedSchema[]>();
  for (const build of sets.flatMap((s) => s.builds)) {
    for (const unit of DriverRegistry.of(build).units) {
      const list = byName.get(unit.name) ?? [];
      if (!list.includes(unit.meta.schema)) list.push(unit.meta.schema);
      byName.set(unit.name, list);
    }
  }
  return {
    find: (driver, version) => byName.get(driver)?.find((schema) => schema.has(version)),
  };
}
