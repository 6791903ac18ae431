import "reflect-metadata";
import { container, injectable } from "tsyringe";
import { describe, expect, it } from "vitest";

@injectable()
class Dependency {
  readonly tag = "dep";
}

@injectable()
class Consumer {
  constructor(readonly dep: Dependency) {}
}

describe("test transform", () => {
  it("emits decorator metadata so tsyringe constructor injection works in tests", () => {
    expect(container.resolve(Consumer).dep.tag).toBe("dep");
  });
});
