import { Machine } from "../../src/hw/machine.js";
import { defineKernelBuild } from "../../src/kernel/build.js";
import { bootLiveUpdateKernel } from "../../src/luo/boot.js";
import { struct, u32, versionedSchema } from "../../src/schema/index.js";

/** A one-field schema named `name` (struct `<name>_v1 { u32 value }`). */
export const schemaNamed = (name: string) =>
  versionedSchema(name, struct(`${name.replace(/-/g, "_")}_v1`, { value: u32() }));

/** Boots a fresh machine with a build of `drivers`. */
export const boot = (drivers: Parameters<typeof defineKernelBuild>[0]["drivers"], memory = "256M") =>
  bootLiveUpdateKernel(new Machine({ memory }), { build: defineKernelBuild({ version: "t", drivers }) });
