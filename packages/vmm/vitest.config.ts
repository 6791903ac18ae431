import { defineProject } from "vitest/config";
import { sharedProjectConfig } from "../../vitest.shared.js";

export default defineProject({
  ...sharedProjectConfig,
  test: { name: "vmm", include: ["test/**/*.test.ts"], testTimeout: 60_000 },
});
