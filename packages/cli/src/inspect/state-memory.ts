import {
  LuoReadOnlyMemoryError,
  type PhysicalMemory,
  type PhysRange,
  type SchemaMemory,
} from "@liveupdate/core";

/**
 * Read-only schema memory over an image, limited to given ranges (an object's data folios): a
 * decode follows no pointer out of what the object listed, as the new kernel's restore does.
 */
export class ImageStateMemory implements SchemaMemory {
  /**
   * @param memory - the image.
   * @param ranges - the readable ranges.
   */
  constructor(
    private readonly memory: PhysicalMemory,
    private readonly ranges: readonly PhysRange[],
  ) {}

  /** @inheritDoc */
  read(phys: number, length: number): Uint8Array {
    return this.memory.read(phys, length);
  }

  /** Refused: the image is inspected, not changed. */
  write(): void {
    throw new LuoReadOnlyMemoryError("write");
  }

  /** Refused: the image is inspected, not changed. */
  allocate(): number {
    throw new LuoReadOnlyMemoryError("allocate");
  }

  /** @inheritDoc */
  isPreserved(phys: number, length: number): boolean {
    return this.ranges.some((r) => phys >= r.base && phys + length <= r.base + r.size);
  }
}
