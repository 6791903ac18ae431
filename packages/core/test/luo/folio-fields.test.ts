import { describe, expect, it } from "vitest";
import type {
  FlbPrepareContext,
  FlbRestoreContext,
  PrepareContext,
  RestoreContext,
} from "../../src/driver/index.js";
import { LiveUpdateDriver, LiveUpdateFlb } from "../../src/driver/index.js";
import { PAGE_SIZE } from "../../src/hw/units.js";
import { defineKernelBuild } from "../../src/kernel/build.js";
import { Kernel } from "../../src/kernel/kernel.js";
import { kexecIntoNext } from "../../src/luo/boot.js";
import { LuoFolioFieldError, LuoHookFailedError, LuoRestoreAbortedError } from "../../src/luo/errors.js";
import {
  folio,
  type Infer,
  reserved,
  SchemaInvariantError,
  struct,
  u32,
  versionedSchema,
} from "../../src/schema/index.js";
import { world } from "./fixtures.js";
import { luoHandover } from "./handover-raw.js";

/** A device page preserved in place; the handover carries only its address and a value. */
const PagedV1 = struct("paged_v1", { page: folio(), value: u32(), _r: reserved(4) });
type PagedV1 = Infer<typeof PagedV1>;

class Paged {
  constructor(
    readonly page: number,
    readonly value: number,
  ) {}
}

/** Shared state with its own page preserved in place (an FLB's state may hold folio fields too). */
const TableV1 = struct("paged_table_v1", { page: folio() });
@LiveUpdateFlb({ schema: versionedSchema("paged-table", TableV1) })
class PagedTable {
  preserve = true;
  page: number;
  restoredPage: number | undefined;

  constructor(readonly kernel: Kernel) {
    this.page = kernel.allocPages(0);
  }

  onPrepare(ctx: FlbPrepareContext): void {
    if (this.preserve) ctx.preserveFolio(this.page, 0);
  }

  onSerialize(): Infer<typeof TableV1> {
    return { page: BigInt(this.page) };
  }

  onRestore(state: Infer<typeof TableV1>, ctx: FlbRestoreContext): void {
    this.restoredPage = ctx.restoreFolio(Number(state.page), 0);
  }
}

@LiveUpdateDriver({ schema: versionedSchema("paged", PagedV1), flbs: [PagedTable] })
class PagedDriver {
  /** The old kernel's bug to play: serialize a page its prepare hook did not preserve. */
  forgetToPreserve = false;
  restores = 0;

  constructor(
    readonly kernel: Kernel,
    readonly table: PagedTable,
  ) {}

  create(value: number): Paged {
    const page = this.kernel.allocPages(0);
    this.kernel.machine.memory.fill(page, PAGE_SIZE, value);
    return new Paged(page, value);
  }

  canPreserve(object: unknown): boolean {
    return object instanceof Paged;
  }

  onPrepare(paged: Paged, ctx: PrepareContext): void {
    if (!this.forgetToPreserve) ctx.preserveFolio(paged.page, 0);
  }

  onSerialize(paged: Paged): PagedV1 {
    return { page: BigInt(paged.page), value: paged.value };
  }

  onRestore(state: PagedV1, ctx: RestoreContext): Paged {
    this.restores++;
    return new Paged(ctx.restoreFolio(Number(state.page), 0), state.value);
  }
}
const build = defineKernelBuild({ version: "paged", drivers: [PagedDriver] });

function preserveTwo() {
  const w = world("512M");
  const a = w.boot(build);
  const driver = a.driver(PagedDriver);
  const p1 = driver.create(0x11);
  const p2 = driver.create(0x22);
  const vm = a.luo.createSession("vm");
  vm.preserve(1, p1);
  vm.preserve(2, p2);
  a.kernel.kexecLoad(build);
  return { w, a, driver, p1, p2 };
}

describe("folio fields in a driver's state", () => {
  it("hand the page over in place: the new kernel restores the same page with its contents", () => {
    const { a, p1 } = preserveTwo();
    const b = kexecIntoNext(a, { build });
    const back = b.luo.retrieveSession("vm").retrieve(1) as Paged;
    expect(back.page).toBe(p1.page);
    expect(b.machine.memory.read(back.page, PAGE_SIZE).every((x) => x === 0x11)).toBe(true);
  });

  it("refuse at serialize a folio the object did not preserve, naming driver, object and field", () => {
    const { a, driver } = preserveTwo();
    driver.forgetToPreserve = true;
    let error: unknown;
    try {
      a.luo.prepare();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LuoHookFailedError);
    const cause = (error as LuoHookFailedError).cause;
    expect(cause).toBeInstanceOf(LuoFolioFieldError);
    expect((cause as LuoFolioFieldError).context).toMatchObject({
      driver: "paged",
      session: "vm",
      token: 1n,
      field: "page",
      order: 0,
      at: "serialize",
    });
    expect(a.luo.phase).toBe("NORMAL");
  });

  it("check an FLB's folio fields too: restored in place, refused at serialize when not preserved", () => {
    const { a, driver } = preserveTwo();
    const page = driver.table.page;
    const b = kexecIntoNext(a, { build });
    b.luo.retrieveSession("vm").retrieve(1);
    expect(b.driver(PagedDriver).table.restoredPage).toBe(page);

    const again = preserveTwo();
    again.driver.table.preserve = false;
    let error: unknown;
    try {
      again.a.luo.prepare();
    } catch (e) {
      error = e;
    }
    const cause = (error as LuoHookFailedError).cause as LuoFolioFieldError;
    expect(cause).toBeInstanceOf(LuoFolioFieldError);
    expect(cause.context).toMatchObject({ driver: "paged-table", field: "page", at: "serialize" });
    expect(cause.message).toMatch(/^FLB paged-table: folio field page/);
  });

  it("refuse at restore a folio the handover does not list for the object, before the restore hook", () => {
    const { w, a, p2 } = preserveTwo();
    const handoff = a.luo.reboot();
    const raw = luoHandover(w.machine, handoff.bootData!);
    // Hostile old kernel: token 1's state names token 2's page (listed, but not for token 1).
    w.machine.memory.writeU64(raw.data(0, 0), BigInt(p2.page));
    const b = w.boot(build, { bootData: handoff.bootData!, cmdline: handoff.cmdline, seed: 3 });
    const vm = b.luo.retrieveSession("vm");
    let error: unknown;
    try {
      vm.retrieve(1);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LuoRestoreAbortedError);
    const cause = (error as LuoRestoreAbortedError).cause as LuoFolioFieldError;
    expect(cause).toBeInstanceOf(LuoFolioFieldError);
    expect(cause.context).toMatchObject({
      driver: "paged",
      session: "vm",
      token: 1n,
      field: "page",
      at: "restore",
    });
    expect(cause.context.phys).toBe(p2.page);
    expect(b.driver(PagedDriver).restores).toBe(0);
    expect((vm.retrieve(2) as Paged).page).toBe(p2.page);
  });

  it("refuse a misaligned folio address on decode (the alignment is part of the schema)", () => {
    const { w, a, p1 } = preserveTwo();
    const handoff = a.luo.reboot();
    const raw = luoHandover(w.machine, handoff.bootData!);
    w.machine.memory.writeU64(raw.data(0, 0), BigInt(p1.page + 8));
    const b = w.boot(build, { bootData: handoff.bootData!, cmdline: handoff.cmdline, seed: 3 });
    let error: unknown;
    try {
      b.luo.retrieveSession("vm").retrieve(1);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LuoRestoreAbortedError);
    expect((error as LuoRestoreAbortedError).cause).toBeInstanceOf(SchemaInvariantError);
    expect(((error as LuoRestoreAbortedError).cause as SchemaInvariantError).context).toMatchObject({
      path: "page",
    });
  });
});
