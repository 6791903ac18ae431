import "reflect-metadata";
import { describe, expect, it } from "vitest";
import type { PrepareContext, RestoreContext } from "../../src/driver/index.js";
import {
  Cancel,
  DriverDeclarationError,
  DriverHookAsyncError,
  Finish,
  FinishCheck,
  Freeze,
  getDriverMetadata,
  getFlbMetadata,
  getHookMethods,
  getPhaseGuards,
  HOOK_NAMES,
  hasHook,
  hookOf,
  isDriverClass,
  LiveUpdateDriver,
  LiveUpdateFlb,
  PHASE_TABLE_MARKER,
  PhaseGuard,
  Prepare,
  PreserveCheck,
  phaseTable,
  phaseTableDrift,
  Restore,
  renderPhaseTable,
  Serialize,
  UPSTREAM_FILE_OPS,
} from "../../src/driver/index.js";
import { struct, u32, versionedSchema } from "../../src/schema/index.js";
import { CounterDriver, CounterDriverV1, CounterSchema, CounterTable } from "../luo/fixtures.js";

const Tiny = versionedSchema("tiny", struct("tiny_v1", { value: u32() }));

describe("declaring a driver", () => {
  it("stores a normalized declaration and makes the class injectable", () => {
    const meta = getDriverMetadata(CounterDriver)!;
    expect(meta).toMatchObject({
      kind: "driver",
      name: "counter",
      native: 2,
      writes: [1, 2],
      reads: [1, 2],
      restorePolicy: "abort",
    });
    expect(meta.flbs()).toEqual([CounterTable]);
    expect(getDriverMetadata(CounterDriverV1)).toMatchObject({ native: 1, writes: [1], reads: [1] });
    expect(getFlbMetadata(CounterTable)).toMatchObject({
      kind: "flb",
      name: "counter-table",
      restorePolicy: "reset",
    });
    expect(isDriverClass(CounterDriver)).toBe(true);
    expect(isDriverClass(CounterTable)).toBe(false);
  });

  it("rejects bad options with DriverDeclarationError", () => {
    const decorate = (options: object) => () => {
      @LiveUpdateDriver(options as never)
      class Bad {
        onSerialize() {}
        onRestore() {}
      }
      return Bad;
    };
    expect(decorate({})).toThrow(DriverDeclarationError);
    expect(decorate({ schema: CounterSchema, native: 3 })).toThrow(DriverDeclarationError);
    expect(decorate({ schema: CounterSchema, writes: [0] })).toThrow(DriverDeclarationError);
    expect(decorate({ schema: CounterSchema, restorePolicy: "panic" })).toThrow(DriverDeclarationError);
    expect(decorate({ schema: versionedSchema("luo", struct("x", { a: u32() })) })).toThrow(/reserved/);
    // `<name>-v<latest>` must fit the LUO handover's char[48] with its NUL: 44 + "-v1" = 47 bytes fits.
    expect(decorate({ schema: versionedSchema("a".repeat(44), struct("x", { a: u32() })) })).not.toThrow();
    const tooLong = decorate({ schema: versionedSchema("a".repeat(45), struct("x", { a: u32() })) });
    expect(tooLong).toThrow(DriverDeclarationError);
    expect(tooLong).toThrow(/char\[48\]/);
    // A written version unreachable from native without a migrator is caught by the catalog rules.
    const TwoNoLink = { ...CounterSchema, migrators: [] };
    expect(decorate({ schema: TwoNoLink })).toThrow(DriverDeclarationError);
  });

  it("finds hooks by decorator (any method name) or by the interface's conventional name", () => {
    @LiveUpdateDriver({ schema: Tiny })
    class Decorated {
      @PreserveCheck() accepts(o: unknown) {
        return typeof o === "object";
      }
      @Prepare() pin(_o: object, _ctx: PrepareContext) {}
      @Serialize() save() {
        return { value: 1 };
      }
      @Freeze() stop() {}
      @Cancel() undo() {}
      @Restore() load(_s: { value: number }, _ctx: RestoreContext) {
        return {};
      }
      @FinishCheck() ready() {
        return true;
      }
      @Finish() done() {}
    }
    expect(getHookMethods(Decorated)).toEqual({
      canPreserve: "accepts",
      prepare: "pin",
      serialize: "save",
      freeze: "stop",
      cancel: "undo",
      restore: "load",
      canFinish: "ready",
      finish: "done",
    });
    const d = new Decorated();
    for (const hook of HOOK_NAMES) expect(hasHook(d, hook)).toBe(true);
    expect(hookOf(d, "serialize")!({}, {} as never)).toEqual({ value: 1 });
    // Conventional names (NestJS style) work without decorators.
    expect(getHookMethods(CounterDriver)).toEqual({ cancel: "undo" });
    const counter = Object.create(CounterDriver.prototype) as object;
    expect(hasHook(counter, "prepare")).toBe(true);
    expect(hasHook(counter, "canFinish")).toBe(true);
    expect(UPSTREAM_FILE_OPS.cancel).toEqual(["unfreeze", "unpreserve"]);
  });

  it("refuses one hook on two methods, and async hooks at call time", () => {
    expect(() => {
      class Twice {
        @Prepare() a() {}
        @Prepare() b() {}
      }
      return Twice;
    }).toThrow(DriverDeclarationError);
    @LiveUpdateDriver({ schema: Tiny })
    class Async {
      async onSerialize() {
        return { value: 1 };
      }
      onRestore() {
        return {};
      }
    }
    expect(() => hookOf(new Async(), "serialize")!({}, {} as never)).toThrow(DriverHookAsyncError);
  });

  it("declares FLBs with hooks that take no object", () => {
    @LiveUpdateFlb({ schema: Tiny })
    class Shared {
      @Serialize() save() {
        return { value: 3 };
      }
      @Restore() load() {}
    }
    expect(getFlbMetadata(Shared)?.name).toBe("tiny");
    expect(getHookMethods(Shared)).toEqual({ serialize: "save", restore: "load" });
  });
});

describe("phase guards and the generated phase table", () => {
  it("records guarded operations and validates their options", () => {
    expect(getPhaseGuards(CounterDriver).map((g) => [g.operation, g.brownout, g.updated])).toEqual([
      ["increment", "dirty", "allow"],
      ["relabel", "refuse", "refuse"],
    ]);
    expect(() => PhaseGuard({ brownout: "maybe" as never })).toThrow(DriverDeclarationError);
    expect(() => PhaseGuard({ brownout: "dirty", updated: "sometimes" as never })).toThrow(
      DriverDeclarationError,
    );
  });

  it("runs guarded methods unchecked on instances no orchestrator owns", () => {
    class Plain {
      n = 0;
      @PhaseGuard({ brownout: "refuse" }) bump() {
        this.n++;
      }
    }
    const p = new Plain();
    p.bump();
    expect(p.n).toBe(1);
    expect(Plain.prototype.bump.name).toBe("bump");
  });

  it("renders which operation is allowed in which phase", () => {
    expect(phaseTable(CounterDriver).map((r) => [r.operation, r.cells])).toEqual([
      ["increment", { NORMAL: "allowed", PREPARED: "dirty", FROZEN: "EBUSY", UPDATED: "allowed" }],
      ["relabel", { NORMAL: "allowed", PREPARED: "EBUSY", FROZEN: "EBUSY", UPDATED: "EBUSY" }],
    ]);
    const md = renderPhaseTable(CounterDriver, { sessionOperations: true });
    expect(md.split("\n")[0]).toBe(
      "| operation | NORMAL | PREPARED (brownout) | FROZEN (blackout) | UPDATED |",
    );
    expect(md).toContain(
      "| `counter.increment` — add one to the counter | ✅ allowed | ✅ dirty → re-serialized at freeze | ⛔ `EBUSY` | ✅ allowed |",
    );
    expect(md).toContain("`luo.retrieveSession`");
    expect(renderPhaseTable(CounterTable)).toContain("`counter-table.bump`");
    expect(() => phaseTable(class NotADriver {} as never)).toThrow(DriverDeclarationError);
  });

  it("phaseTableDrift: agrees with a re-padded copy, names a missing marker and a changed cell", () => {
    const table = renderPhaseTable(CounterTable);
    const guide = `# Guide\n\n${PHASE_TABLE_MARKER}\n${table.replaceAll(" | ", "   |   ")}\n\nmore text\n`;
    expect(phaseTableDrift(guide, CounterTable)).toBeUndefined();
    expect(phaseTableDrift(`# Guide\n${table}\n`, CounterTable)).toContain(
      "no <!-- generated: phase-table -->",
    );
    const stale = guide.replace("EBUSY", "EAGAIN");
    expect(phaseTableDrift(stale, CounterTable)).toContain("differs from the generated one");
  });
});
