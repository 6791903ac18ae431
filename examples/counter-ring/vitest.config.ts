import { defineProject } from "vitest/config";
import { sharedProjectConfig } from "../../vitest.shared.js";

export default defineProject({
  ...sharedProjectConfig,
  test: { name: "example-counter-ring", include: ["test/**/*.test.ts"], testTimeout: 120_000 },
});
