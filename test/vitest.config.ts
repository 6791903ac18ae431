import { defineProject } from "vitest/config";
import { sharedProjectConfig } from "../vitest.shared.js";

export default defineProject({
  ...sharedProjectConfig,
  test: { name: "e2e", include: ["**/*.test.ts"], testTimeout: 120_000 },
});
