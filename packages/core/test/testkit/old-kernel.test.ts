import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { DmaEngine } from "../../src/hw/devices/dma-engine/engine.js";
import { Machine } from "../../src/hw/machine.js";
import { hardwareOf, objectGraph, scramble } from "../../src/testkit/old-kernel.js";

describe("the old-kernel walk", () => {
  it("never enters a PCI function a driver object points at: hardware survives the kexec", () => {
    const machine = new Machine({ memory: "256M" });
    const engine = new DmaEngine();
    machine.pci.attach(engine, "00:04.0");
    const driverObject = { bdf: "0000:00:04.0", fn: engine, vectors: [{ index: 0, hostVector: 0x40 }] };
    const graph = objectGraph([driverObject], hardwareOf(machine));
    expect(graph.has(engine)).toBe(false);
    expect(graph.has(driverObject.vectors[0]!)).toBe(true); // the driver's own state is walked
    const barBefore = engine.barSize(0);
    const undo = scramble(graph);
    expect(driverObject.vectors[0]!.hostVector).not.toBe(0x40);
    expect(engine.barSize(0)).toBe(barBefore);
    expect(engine.registers().ID).toBe(0x45414d44);
    undo();
    expect(driverObject.vectors[0]!.hostVector).toBe(0x40);
  });
});
