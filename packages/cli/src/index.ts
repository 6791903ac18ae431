/**
 * `@liveupdate/cli` — the `liveupdate` command. Run `liveupdate --help` for its subcommands.
 *
 * @packageDocumentation
 */
export { ARTIFACT_FILES, type HardwareRegionJson } from "./artifacts/files.js";
export { type HandoverArtifacts, readHandoverArtifacts } from "./artifacts/read.js";
export { writeHandoverArtifacts } from "./artifacts/write.js";
export { SELFTEST_BUILDS } from "./builds/core-builds.js";
export { COUNTER_RING_BUILDS } from "./builds/counter-ring-builds.js";
export { SHIPPED_BUILDS, shippedKernelBuilds } from "./builds/registry.js";
export { allPairs, type BuildPair, defineShippedBuilds, type ShippedBuilds } from "./builds/shipped.js";
export { VMM_BUILD_A, VMM_BUILD_B, VMM_BUILDS } from "./builds/vmm-builds.js";
export { type CheckInputs, evaluateChecks } from "./demo/checks.js";
export { formatDemoReport } from "./demo/format.js";
export { GANTT_MARKS, ganttRows } from "./demo/gantt.js";
export { type DemoDeviceJson, type DemoMappingJson, demoHardwareJson } from "./demo/hardware.js";
export {
  type DemoOptions,
  FAIL_AT_HOOKS,
  hostReserve,
  MAX_DEMO_VMS,
  type ResolvedDemoOptions,
  resolveDemoOptions,
} from "./demo/options.js";
export type {
  DemoCheck,
  DemoDmaReport,
  DemoDriverReport,
  DemoFailure,
  DemoInterruptReport,
  DemoNegotiated,
  DemoPhaseName,
  DemoReport,
  DemoSpan,
  DemoTimeline,
  DemoUpdateReport,
  DemoVmReport,
} from "./demo/report.js";
export { type DemoRun, runDemo } from "./demo/scenario.js";
export { negotiatedOf, updateReportOf } from "./demo/timeline.js";
export { DemoOptionsError, InspectInputError, ShippedBuildsInvalidError } from "./errors.js";
export { COUNTER_RING_DECODER } from "./inspect/decoders/counter-ring.js";
export { GUESTMEMFS_DECODER } from "./inspect/decoders/guestmemfs.js";
export { IOMMUFD_DECODER } from "./inspect/decoders/iommufd.js";
export { KHO_TEST_DECODER } from "./inspect/decoders/kho-test.js";
export { LUO_DECODER } from "./inspect/decoders/luo.js";
export { VFIO_PCI_DECODER } from "./inspect/decoders/vfio-pci.js";
export { DEFAULT_INSPECT_REGISTRY } from "./inspect/default-registry.js";
export { formatHandoverReport, handoverReportJson } from "./inspect/format.js";
export {
  type HandoverReport,
  inspectArtifacts,
  inspectHandover,
  type SubtreeReport,
} from "./inspect/inspect.js";
export { type OrderSummary, type OwnerSummary, UNCLAIMED } from "./inspect/owners.js";
export type {
  FolioClaim,
  Inspection,
  InspectProblem,
  InspectRegistry,
  ObjectContext,
  ObjectDecoder,
  StateSchemas,
  SubtreeContext,
  SubtreeDecoder,
} from "./inspect/registry.js";
export { ImageStateMemory } from "./inspect/state-memory.js";
export { type CommandIo, reportFailure, toJson } from "./io.js";
export { formatShippedMatrix } from "./matrix/format.js";
export {
  type PathKind,
  type ShippedMatrix,
  type ShippedMatrixCell,
  type ShippedMatrixOptions,
  type ShippedMatrixPair,
  type ShippedMatrixSet,
  shippedMatrix,
} from "./matrix/shipped-matrix.js";
export { buildProgram, type ProgramOptions } from "./program.js";
export { NO_PROGRESS, type ProgressEvent, type ProgressSink, progressFor } from "./progress/progress.js";
export { renderHtmlReport } from "./report-html/render.js";
export { SelftestVerificationError } from "./selftest/errors.js";
export { formatSelftestReport } from "./selftest/format.js";
export {
  type KhoSelftestOptions,
  type KhoSelftestReport,
  runKhoSelftest,
  type SelftestHop,
} from "./selftest/kho-selftest.js";
