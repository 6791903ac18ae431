/**
 * The schemas concepts page's example: a driver's preserved state goes v1 → v2 (upgrade) → v1
 * (downgrade), with negotiation, a refused downgrade, a compatibility matrix, a JSON dump, a C
 * header and a lock-file check. Type-checked by `npm test` and run by
 * packages/core/test/schema/docs-example.test.ts.
 */
import {
  arrayPointer,
  catalogEntryFromSchema,
  cHeader,
  chars,
  checkSchemaLock,
  compatibilityMatrix,
  defineCatalog,
  describeSchema,
  formatCompatibilityMatrix,
  formatSchemaLock,
  type Infer,
  InMemorySchemaMemory,
  type KernelBuildCatalog,
  LiveUpdateError,
  negotiate,
  reserved,
  struct,
  u8,
  u32,
  u64,
  updateSchemaLock,
  versionedSchema,
} from "@liveupdate/core";

// 1. Declare each version as data. Pointers are physical addresses of preserved memory.
const Extent = struct("memfd_extent", {
  phys: u64({ mask: 0xffff_ffff_ffff_f000n }), // page aligned
  pages: u32({ min: 1 }),
  _r0: reserved(4),
});

const MemfdV1 = struct("memfd_state", {
  name: chars(32),
  size: u64(),
  nr_extents: u32({ max: 1024 }), // derived: the length of `extents`
  flags: u32({ mask: 0x1 }),
  extents: arrayPointer(Extent, { count: "nr_extents" }),
});

// v2 adds F_SEAL_* bits in a new field; the layout grows, so it is a new version.
const MemfdV2 = struct("memfd_state", {
  name: chars(32),
  size: u64(),
  nr_extents: u32({ max: 1024 }),
  flags: u32({ mask: 0x1 }),
  extents: arrayPointer(Extent, { count: "nr_extents" }),
  seals: u8({ mask: 0xf }),
  _r0: reserved(7),
});

type MemfdV1 = Infer<typeof MemfdV1>;
type MemfdV2 = Infer<typeof MemfdV2>;

// 2. Connect the versions with a migrator and say how faithful it is: v1 → v2 is lossless, and
//    v2 → v1 must refuse a value with seals set (v1 cannot express it): `injective`.
export const Memfd = versionedSchema("memfd", MemfdV1).next(MemfdV2, {
  kind: "injective",
  up: (v1: MemfdV1): MemfdV2 => ({ ...v1, seals: 0 }),
  down: ({ seals, ...v1 }: MemfdV2, ctx): MemfdV1 =>
    seals === 0 ? v1 : ctx.refuse("seals", "v1 has no seals"),
});

// 3. Two kernel builds and what they can read and write: the old one only knows v1; the new one
//    runs v2 natively and still reads and writes v1, so both upgrade and downgrade are possible.
export const oldBuild: KernelBuildCatalog = {
  version: "6.16.0-lu1",
  catalog: defineCatalog([catalogEntryFromSchema(Memfd, { native: 1, writes: [1], reads: [1] })]),
};
export const newBuild: KernelBuildCatalog = {
  version: "6.16.0-lu2",
  catalog: defineCatalog([catalogEntryFromSchema(Memfd)]), // native v2, writes and reads v1 and v2
};

/** What the example observed, for its test. */
export interface SchemaExampleResult {
  upgradeVersion: number;
  afterUpgrade: MemfdV2;
  downgradeVersion: number;
  downgradePath: string[];
  afterDowngrade: MemfdV1;
  refusal: { code: string; path: unknown };
  matrix: string;
  header: string;
  lockViolations: number;
}

export function schemaV1V2V1Example(log: (line: string) => void = () => {}): SchemaExampleResult {
  // The preserved memory both kernels see (the kernel layer supplies one over KHO).
  const memory = new InMemorySchemaMemory();

  // --- Upgrade: the old kernel (v1) hands over to the new one (v2).
  const up = negotiate(oldBuild, newBuild).drivers[0]!; // memfd-v1: the only version both know
  const state: MemfdV1 = {
    name: "guest-ram",
    size: 0x20_0000n,
    flags: 1,
    extents: [{ phys: 0x1_0000_0000n, pages: 512 }],
  };
  const handoverV1 = Memfd.version(1).codec.store(state, memory); // phys address of the struct
  // ... kexec: only `memory` (preserved) and the phys address survive ...
  const decoded = Memfd.version(up.version).codec.load(memory, handoverV1);
  const afterUpgrade = Memfd.migrate(decoded, 1, 2).value; // up: seals = 0
  log(
    `upgrade ${up.compatible}: ${JSON.stringify(afterUpgrade, (_k, v) => (typeof v === "bigint" ? `${v}` : v))}`,
  );

  // --- Downgrade: the new kernel (v2) hands over to the old one (v1).
  const down = negotiate(newBuild, oldBuild).drivers[0]!; // v1, reached by the v2 → v1 migrator
  const v1Value = Memfd.migrate(afterUpgrade, 2, down.version).value; // seals is 0: accepted
  const handoverBack = Memfd.version(down.version).codec.store(v1Value, memory);
  const afterDowngrade = Memfd.version(1).codec.load(memory, handoverBack);
  log(`downgrade ${down.compatible} via ${down.writePath.map((s) => `${s.direction}:${s.kind}`).join(", ")}`);

  // A v2 value with seals set cannot go down silently: typed error naming the field.
  let refusal = { code: "", path: undefined as unknown };
  try {
    Memfd.migrate({ ...afterUpgrade, seals: 0x3 }, 2, 1);
  } catch (e) {
    if (!(e instanceof LiveUpdateError)) throw e;
    refusal = { code: e.code, path: e.context["path"] }; // "SCHEMA_DOWNGRADE_REFUSED", "seals"
  }
  log(`refused: ${refusal.code} at ${String(refusal.path)}`);

  // --- Compatibility between every ordered pair of builds, and artefacts for humans and C.
  const matrix = formatCompatibilityMatrix(compatibilityMatrix([oldBuild, newBuild]));
  log(matrix);
  const header = cHeader(Memfd); // memfd_state_v1, memfd_state_v2, memfd_extent, _Static_asserts
  const dump = describeSchema(Memfd); // commit as JSON; compareSchemaDumps() checks the next release
  log(`dump: ${dump.versions.map((v) => `${v.compatible} ${v.size} bytes`).join(", ")}`);

  // --- Release step: lock the layout hash of every released version; tests then check the lock.
  const lockFile = formatSchemaLock(updateSchemaLock([Memfd]));
  const lockViolations = checkSchemaLock([Memfd], lockFile).length; // 0: nothing changed

  return {
    upgradeVersion: up.version,
    afterUpgrade,
    downgradeVersion: down.version,
    downgradePath: down.writePath.map((s) => `${s.direction}:${s.kind}`),
    afterDowngrade,
    refusal,
    matrix,
    header,
    lockViolations,
  };
}
