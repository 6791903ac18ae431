import type { UserWorkspaceConfig } from "vitest/config";

/**
 * Settings every vitest project shares: resolve workspace packages to their TypeScript sources
 * (the `@liveupdate/source` export condition) and keep legacy decorators with metadata, which
 * tsyringe constructor injection needs inside tests.
 */
export const sharedProjectConfig: UserWorkspaceConfig = {
  ssr: { resolve: { conditions: ["@liveupdate/source"] } },
  resolve: { conditions: ["@liveupdate/source"] },
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } },
};
