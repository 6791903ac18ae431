/**
 * `@liveupdate/core/testkit` — what a driver author imports into their own test suite:
 * - {@link LiveUpdateHarness}: boot build A, create and preserve objects, update to build B (kexec
 *   with poisoning), get the restored objects and the timeline;
 * - {@link verifyDriverConformance} / {@link assertDriverConformance}: the conformance suite (round
 *   trips, migrator laws, version pairs, cancel, poisoning, virtual addresses, corrupted handovers);
 * - tools the suite is built from: {@link withCatalog} (driver variants with another catalog),
 *   {@link withNative} (a driver adapted to speak another version natively), {@link withRestorePolicy}
 *   (the same driver with the other restore policy), {@link MemorySnapshot}, {@link readLuoHandover} and {@link planCorruption}.
 *
 * @categoryDescription Harness
 * One update cycle between two kernel builds, from a test.
 * @categoryDescription Conformance suite
 * Every check a driver should pass, and its report.
 * @categoryDescription Tools for tests
 * Build variants, handover maps, corruption plans and memory snapshots for your own checks.
 * @module testkit
 */
import "reflect-metadata";

export { assertDriverConformance, verifyDriverConformance } from "./conformance.js";
export {
  CORRUPTION_KINDS,
  type Corruption,
  type CorruptionKind,
  type CorruptionTarget,
  planCorruption,
} from "./corruption.js";
export { DriverConformanceError, HandoverImageError, HarnessStateError, TestkitError } from "./errors.js";
export {
  fieldOffset,
  type HandoverArenaFolio,
  type HandoverFileImage,
  type HandoverFlbImage,
  type HandoverFolioImage,
  type HandoverRecordImage,
  type HandoverSessionImage,
  type HandoverSubtreeImage,
  LUO_RECORD_LAYOUT,
  type LuoHandoverImage,
  type LuoRecordLayout,
  type RecordLayout,
  readLuoHandover,
  readLuoSubtree,
} from "./handover-image.js";
export {
  DEFAULT_SESSION,
  type HarnessOptions,
  LiveUpdateHarness,
  type UpdateOptions,
  type UpdateResult,
} from "./harness.js";
export { MemorySnapshot } from "./memory-snapshot.js";
export type { ConformanceOptions, CorruptionOptions, RestoredObjectContext } from "./options.js";
export {
  CONFORMANCE_CHECKS,
  type ConformanceCheckName,
  type ConformanceCheckResult,
  type ConformanceFailure,
  type ConformanceReport,
  type CorruptionObjectResult,
  type CorruptionTrialResult,
  type FormatReportOptions,
  formatConformanceReport,
  type VersionPairResult,
} from "./report.js";
export { COMPANION_TOKENS, CONFORMANCE_SESSION } from "./scenario.js";
export { type CatalogOverride, withCatalog, withNative, withRestorePolicy } from "./variants.js";
