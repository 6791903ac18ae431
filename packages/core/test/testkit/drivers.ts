import "reflect-metadata";
import { injectable } from "tsyringe";
import { expect } from "vitest";
import type { PrepareContext, RestoreContext, SerializeContext } from "../../src/driver/index.js";
import { LiveUpdateDriver, PhaseGuard } from "../../src/driver/index.js";
import { PAGE_SIZE } from "../../src/hw/units.js";
import { Kernel } from "../../src/kernel/kernel.js";
import { type Infer, reserved, struct, u32, u64, versionedSchema } from "../../src/schema/index.js";
import type { ConformanceOptions } from "../../src/testkit/index.js";

/** A "blob" device: one page filled with a pattern derived from its value. */
export class Blob {
  constructor(
    readonly page: number,
    public value: number,
  ) {}
}

export const BlobV1 = struct("blob_v1", { page: u64(), value: u32(), _r: reserved(4), cookie: u64() });
export type BlobV1Value = Infer<typeof BlobV1>;
export const BlobSchema = versionedSchema("blob", BlobV1);

export function pattern(value: number): number {
  return (value * 29 + 3) & 0xff;
}

/** A correct driver, and the base of the broken ones below. */
@injectable()
export class BlobDriverBase {
  constructor(readonly kernel: Kernel) {}

  create(value = 0): Blob {
    const page = this.kernel.allocPages(0);
    this.kernel.machine.memory.fill(page, PAGE_SIZE, pattern(value));
    return new Blob(page, value);
  }

  canPreserve(object: unknown): boolean {
    return object instanceof Blob;
  }

  onPrepare(blob: Blob, ctx: PrepareContext): void {
    ctx.preserveFolio(blob.page, 0);
  }

  onSerialize(blob: Blob, _ctx: SerializeContext): BlobV1Value {
    return { page: BigInt(blob.page), value: blob.value, cookie: 0n };
  }

  onRestore(state: BlobV1Value, ctx: RestoreContext): Blob {
    return new Blob(ctx.restoreFolio(Number(state.page), 0), state.value);
  }

  @PhaseGuard({ brownout: "dirty" })
  bump(blob: Blob): void {
    blob.value++;
    this.kernel.machine.memory.fill(blob.page, PAGE_SIZE, pattern(blob.value));
  }
}

@LiveUpdateDriver({ schema: BlobSchema })
export class BlobDriver extends BlobDriverBase {}

@LiveUpdateDriver({ schema: BlobSchema, restorePolicy: "reset" })
export class ResetBlobDriver extends BlobDriverBase {}

/** Forgets to preserve its page (and does not restore it either). */
@LiveUpdateDriver({ schema: BlobSchema })
export class ForgetfulBlobDriver extends BlobDriverBase {
  override onPrepare(): void {}

  override onRestore(state: BlobV1Value): Blob {
    return new Blob(Number(state.page), state.value);
  }
}

/** Writes a direct-map virtual address into its state ("for debugging"). */
@LiveUpdateDriver({ schema: BlobSchema })
export class VirtualBlobDriver extends BlobDriverBase {
  override onSerialize(blob: Blob, ctx: SerializeContext): BlobV1Value {
    return { ...super.onSerialize(blob, ctx), cookie: this.kernel.layout.physToVirt(blob.page) };
  }
}

/** Marks its page "quiesced" at prepare and has no cancel hook to undo it. */
@LiveUpdateDriver({ schema: BlobSchema })
export class StickyBlobDriver extends BlobDriverBase {
  override onPrepare(blob: Blob, ctx: PrepareContext): void {
    super.onPrepare(blob, ctx);
    this.kernel.machine.memory.writeU8(blob.page + 100, 0xee);
  }
}

/** Allocates a page at prepare and never frees it. */
@LiveUpdateDriver({ schema: BlobSchema })
export class LeakyBlobDriver extends BlobDriverBase {
  override onPrepare(blob: Blob, ctx: PrepareContext): void {
    super.onPrepare(blob, ctx);
    this.kernel.allocPages(0);
  }
}

/** Trusts its state: anything unexpected makes the restore hook crash with a TypeError. */
@LiveUpdateDriver({ schema: BlobSchema })
export class CrashyBlobDriver extends BlobDriverBase {
  override onRestore(state: BlobV1Value, ctx: RestoreContext): Blob {
    const names = new Map<bigint, string>([[0n, "plain"]]);
    const name = names.get(state.value > 1 ? 1n : state.cookie);
    void (name as string).length; // TypeError when the state is not what this driver ever writes
    return super.onRestore(state, ctx);
  }
}

/** Its brownout operation is not a @PhaseGuard: the change is never re-serialized. */
@LiveUpdateDriver({ schema: BlobSchema })
export class UntrackedBlobDriver extends BlobDriverBase {
  touch(blob: Blob): void {
    blob.value++;
    this.kernel.machine.memory.fill(blob.page, PAGE_SIZE, pattern(blob.value));
  }
}

export const BlobV2 = struct("blob_v2", { page: u64(), value: u32(), extra: u32(), cookie: u64() });
export type BlobV2Value = Infer<typeof BlobV2>;

/** A two-version schema whose migrators break `down(up(x)) = x`. */
export const BadBlobSchema = versionedSchema("badblob", BlobV1).next(BlobV2, {
  kind: "iso",
  up: ({ page, value, cookie }) => ({
    page,
    value: value === 0xffff_ffff ? value : value + 1,
    extra: 0,
    cookie,
  }),
  down: ({ page, value, cookie }) => ({ page, value, cookie }),
});

/** A driver of a two-version schema (correct hooks, broken migrators). */
@LiveUpdateDriver({ schema: BadBlobSchema })
export class BadMigratorBlobDriver extends BlobDriverBase {
  override onSerialize(blob: Blob): BlobV2Value {
    return { page: BigInt(blob.page), value: blob.value, extra: 0, cookie: 0n };
  }
}

export const GoodBlobSchema = versionedSchema("goodblob", BlobV1).next(BlobV2, {
  kind: "injective",
  up: (v1) => ({ ...v1, extra: 0 }),
  down: ({ extra, ...v1 }, ctx) => (extra === 0 ? v1 : ctx.refuse("extra", "v1 has no extra")),
});

/** A correct two-version driver (native v2, reads and writes both). */
@LiveUpdateDriver({ schema: GoodBlobSchema })
export class TwoVersionBlobDriver extends BlobDriverBase {
  override onSerialize(blob: Blob): BlobV2Value {
    return { page: BigInt(blob.page), value: blob.value, extra: blob.value % 3 === 0 ? 1 : 0, cookie: 0n };
  }
}

/** The same driver's previous release: native v1 only. */
@LiveUpdateDriver({ schema: GoodBlobSchema, native: 1, writes: [1], reads: [1] })
export class TwoVersionBlobDriverV1 extends BlobDriverBase {}

/** Conformance options for every blob driver. */
export function blobOptions(
  extra: Partial<ConformanceOptions<BlobDriverBase, Blob, { value: number; bytes: Uint8Array }>> = {},
): ConformanceOptions<BlobDriverBase, Blob, { value: number; bytes: Uint8Array }> {
  return {
    createObject: (_lk, rng, driver) => driver.create(rng.int(0, 1)),
    snapshot: (blob, lk) => ({ value: blob.value, bytes: lk.machine.memory.read(blob.page, PAGE_SIZE) }),
    assertRestored: (_original, restored, ctx) => {
      expect(restored).toBeInstanceOf(Blob);
      expect(restored.value).toBe(ctx.snapshot!.value);
      expect(ctx.kernel.machine.memory.read(restored.page, PAGE_SIZE)).toEqual(ctx.snapshot!.bytes);
    },
    brownout: (blob, _lk, driver) => driver.bump(blob),
    ...extra,
  };
}

/** Keeps its blobs in module state and hands the old kernel's object back on restore. */
const kept = new Map<bigint, Blob>();

@LiveUpdateDriver({ schema: BlobSchema })
export class KeptObjectBlobDriver extends BlobDriverBase {
  override onSerialize(blob: Blob, ctx: SerializeContext): BlobV1Value {
    kept.set(ctx.token, blob);
    return super.onSerialize(blob, ctx);
  }

  override onRestore(state: BlobV1Value, ctx: RestoreContext): Blob {
    ctx.restoreFolio(Number(state.page), 0);
    return kept.get(ctx.token)!;
  }
}

/** The same, but copies the kept object (its fields, at restore time) instead of decoding its state. */
@LiveUpdateDriver({ schema: BlobSchema })
export class CopiedObjectBlobDriver extends KeptObjectBlobDriver {
  override onRestore(state: BlobV1Value, ctx: RestoreContext): Blob {
    const old = super.onRestore(state, ctx);
    return new Blob(old.page, old.value);
  }
}

/** Hands over its page as a direct-map virtual address, and restores it from there. */
@LiveUpdateDriver({ schema: BlobSchema })
export class VirtualPageBlobDriver extends BlobDriverBase {
  override onSerialize(blob: Blob, ctx: SerializeContext): BlobV1Value {
    return { ...super.onSerialize(blob, ctx), page: this.kernel.layout.physToVirt(blob.page) };
  }
}

/** A two-version schema whose `up` keeps only the low 16 bits of the value (a lossy up). */
export const TruncatingBlobSchema = versionedSchema("truncblob", BlobV1).next(BlobV2, {
  kind: "injective",
  up: (v1) => ({ ...v1, value: v1.value & 0xffff, extra: 0 }),
  down: ({ extra, ...v1 }, ctx) => (extra === 0 ? v1 : ctx.refuse("extra", "v1 has no extra")),
});

/** A two-version schema whose `down` resets the cookie it should keep. */
export const ForgetfulDownBlobSchema = versionedSchema("cookieblob", BlobV1).next(BlobV2, {
  kind: "injective",
  up: (v1) => ({ ...v1, extra: 0 }),
  down: ({ extra, ...v1 }, ctx) =>
    extra === 0 ? { ...v1, cookie: 0n } : ctx.refuse("extra", "v1 has no extra"),
});

/** Drivers of those schemas (correct hooks). */
@LiveUpdateDriver({ schema: TruncatingBlobSchema })
export class TruncatingBlobDriver extends BlobDriverBase {
  override onSerialize(blob: Blob): BlobV2Value {
    return { page: BigInt(blob.page), value: blob.value, extra: 0, cookie: 0n };
  }
}

@LiveUpdateDriver({ schema: ForgetfulDownBlobSchema })
export class ForgetfulDownBlobDriver extends BlobDriverBase {
  override onSerialize(blob: Blob): BlobV2Value {
    return { page: BigInt(blob.page), value: blob.value, extra: 0, cookie: 0n };
  }
}

/** Trusts the content of its in-place page: a page that is not its pattern makes the restore crash. */
@LiveUpdateDriver({ schema: BlobSchema })
export class PageTrustingBlobDriver extends BlobDriverBase {
  override onRestore(state: BlobV1Value, ctx: RestoreContext): Blob {
    const bytes = this.kernel.machine.memory.read(Number(state.page), PAGE_SIZE);
    const kinds = new Map<boolean, string>([[true, "pattern"]]);
    void (kinds.get(bytes.every((b) => b === pattern(state.value))) as string).length;
    return super.onRestore(state, ctx);
  }
}
