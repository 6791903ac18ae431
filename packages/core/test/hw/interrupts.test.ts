import { type InterruptDelivery, msiMessage, pciRegs, VectorError } from "@liveupdate/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { enable, programVector, TestDevice, testMachine } from "./pci-fixtures.js";

const R = pciRegs;

function wiredDevice() {
  const machine = testMachine();
  const fn = new TestDevice();
  machine.pci.attach(fn, "00:05.0");
  enable(fn);
  const got: InterruptDelivery[] = [];
  return { machine, fn, got, handler: (d: InterruptDelivery) => got.push(d) };
}

function balanced(fn: TestDevice): void {
  const c = fn.interruptCounters;
  expect(c.raised).toBe(c.delivered + c.coalesced + c.pending + c.lost);
}

describe("MSI-X and the interrupt controller", () => {
  it("delivers an unmasked vector to its handler", () => {
    const { machine, fn, got, handler } = wiredDevice();
    machine.interrupts.wire(0x41, handler);
    programVector(fn, 0, msiMessage(0x41, 3));
    fn.fire(0);
    expect(got).toMatchObject([{ vector: 0x41, destination: 3, source: "0000:00:05.0", late: false }]);
    expect(fn.interruptCounters.snapshot()).toEqual({
      raised: 1,
      delivered: 1,
      coalesced: 0,
      pending: 0,
      lost: 0,
    });
  });

  it("latches a masked vector in the PBA and delivers it on unmask; coalesces a second raise", () => {
    const { machine, fn, got, handler } = wiredDevice();
    machine.interrupts.wire(0x42, handler);
    programVector(fn, 2, msiMessage(0x42), true);
    fn.fire(2);
    fn.fire(2);
    expect(got).toEqual([]);
    expect(fn.mmioRead32(2, 0x800)).toBe(1 << 2); // PBA bit 2
    expect(fn.interruptCounters.snapshot()).toMatchObject({ raised: 2, pending: 1, coalesced: 1 });
    fn.mmioWrite32(2, 0x800, 0); // the PBA is read-only
    expect(fn.mmioRead32(2, 0x800)).toBe(1 << 2);
    fn.mmioWrite32(2, 2 * 16 + 12, 0); // unmask
    expect(got.length).toBe(1);
    expect(fn.mmioRead32(2, 0x800)).toBe(0);
    balanced(fn);
  });

  it("latches under the function mask, with MSI-X disabled and with bus mastering off", () => {
    const { machine, fn, got, handler } = wiredDevice();
    machine.interrupts.wire(0x43, handler);
    programVector(fn, 1, msiMessage(0x43));
    const ctl = R.MSIX_CAP_OFFSET + R.PCI_MSIX_FLAGS;
    const on = fn.configRead(ctl, 2);
    fn.configWrite(ctl, 2, on | R.PCI_MSIX_FLAGS_MASKALL);
    fn.fire(1);
    expect(got.length).toBe(0);
    fn.configWrite(ctl, 2, on);
    expect(got.length).toBe(1);
    fn.configWrite(ctl, 2, on & ~R.PCI_MSIX_FLAGS_ENABLE);
    fn.fire(1);
    fn.configWrite(ctl, 2, on);
    expect(got.length).toBe(2);
    fn.configWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
    fn.fire(1);
    expect(got.length).toBe(2);
    fn.configWrite(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER);
    expect(got.length).toBe(3);
    balanced(fn);
  });

  it("latches messages to unwired vectors (the blackout) and delivers them when wired, never drops them", () => {
    const { machine, fn, got, handler } = wiredDevice();
    programVector(fn, 0, msiMessage(0x50));
    programVector(fn, 1, msiMessage(0x51));
    machine.interrupts.wire(0x50, handler);
    machine.interrupts.unwireAll(); // kexec: the old kernel's handlers are gone
    fn.fire(0);
    fn.fire(1);
    fn.fire(0); // same device, same latched vector: one latched interrupt
    expect(machine.interrupts.latchedMessages()).toEqual([
      { vector: 0x50, source: "0000:00:05.0" },
      { vector: 0x51, source: "0000:00:05.0" },
    ]);
    expect(fn.interruptCounters.snapshot()).toMatchObject({ raised: 3, pending: 2, coalesced: 1, lost: 0 });
    machine.interrupts.wire(0x51, handler);
    machine.interrupts.wire(0x50, handler);
    expect(got.map((d) => [d.vector, d.late])).toEqual([
      [0x51, true],
      [0x50, true],
    ]);
    expect(fn.interruptCounters.snapshot()).toMatchObject({ delivered: 2, pending: 0, lost: 0 });
    balanced(fn);
  });

  it("counts lost only when a fault is injected or the message address is outside the window", () => {
    const { machine, fn, got, handler } = wiredDevice();
    machine.interrupts.wire(0x60, handler);
    programVector(fn, 0, msiMessage(0x60));
    machine.interrupts.injectLoss(1);
    fn.fire(0);
    fn.fire(0);
    expect(got.length).toBe(1);
    programVector(fn, 3, { address: 0x1000, data: 0x60 });
    fn.fire(3);
    fn.fire(9); // beyond the table
    expect(fn.interruptCounters.lost).toBe(3);
    balanced(fn);
  });

  it("keeps a handler's error and goes on; refuses bad or doubly wired vectors", () => {
    const { machine, fn } = wiredDevice();
    machine.interrupts.wire(0x61, () => {
      throw new Error("kernel bug");
    });
    programVector(fn, 0, msiMessage(0x61));
    fn.fire(0);
    expect(machine.interrupts.handlerErrors.length).toBe(1);
    expect(fn.interruptCounters.delivered).toBe(1);
    expect(() => machine.interrupts.wire(0x61, () => {})).toThrow(VectorError);
    expect(() => machine.interrupts.wire(31, () => {})).toThrow(VectorError);
    expect(() => machine.interrupts.wire(256, () => {})).toThrow(VectorError);
    expect(machine.interrupts.wiredVectors()).toEqual([0x61]);
    machine.interrupts.unwire(0x61);
    expect(machine.interrupts.isWired(0x61)).toBe(false);
  });

  it("accounts for every raise under any sequence of masks, wiring and unwiring (property)", () => {
    type Op = { op: "fire" | "mask" | "unmask" | "wire" | "unwire" | "fmask" | "funmask"; v: number };
    const op = fc.record({
      op: fc.constantFrom("fire", "mask", "unmask", "wire", "unwire", "fmask", "funmask"),
      v: fc.integer({ min: 0, max: 3 }),
    }) as fc.Arbitrary<Op>;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const { machine, fn, handler } = wiredDevice();
        for (let v = 0; v < 4; v++) programVector(fn, v, msiMessage(0x70 + v), true);
        const ctl = R.MSIX_CAP_OFFSET + R.PCI_MSIX_FLAGS;
        for (const { op, v } of ops) {
          if (op === "fire") fn.fire(v);
          else if (op === "mask") fn.mmioWrite32(2, v * 16 + 12, 1);
          else if (op === "unmask") fn.mmioWrite32(2, v * 16 + 12, 0);
          else if (op === "wire" && !machine.interrupts.isWired(0x70 + v))
            machine.interrupts.wire(0x70 + v, handler);
          else if (op === "unwire") machine.interrupts.unwire(0x70 + v);
          else if (op === "fmask") fn.configWrite(ctl, 2, fn.configRead(ctl, 2) | R.PCI_MSIX_FLAGS_MASKALL);
          else if (op === "funmask")
            fn.configWrite(ctl, 2, fn.configRead(ctl, 2) & ~R.PCI_MSIX_FLAGS_MASKALL);
          balanced(fn);
        }
        // Unmask and wire everything: nothing stays pending, nothing was lost.
        fn.configWrite(ctl, 2, fn.configRead(ctl, 2) & ~R.PCI_MSIX_FLAGS_MASKALL);
        for (let v = 0; v < 4; v++) {
          if (!machine.interrupts.isWired(0x70 + v)) machine.interrupts.wire(0x70 + v, handler);
          fn.mmioWrite32(2, v * 16 + 12, 0);
        }
        expect(fn.interruptCounters.pending).toBe(0);
        expect(fn.interruptCounters.lost).toBe(0);
        balanced(fn);
      }),
      { numRuns: 200 },
    );
  });
});
