import { hex, LiveUpdateError } from "../common/errors.js";

/** An access touched a physical address that is not backed by any memory region. */
export class NotMemoryError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "HW_NOT_MEMORY";
  /**
   * @param phys - first byte of the access.
   * @param length - length of the access in bytes.
   */
  constructor(
    readonly phys: number,
    readonly length: number,
  ) {
    super(`physical access [${hex(phys)}, +${length}) is outside memory`, { phys, length });
  }
}

/** An access had a malformed address or length (negative, fractional, beyond 2^53). */
export class BadAccessError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "HW_BAD_ACCESS";
  /**
   * @param what - which argument was wrong.
   * @param value - the offending value.
   */
  constructor(what: string, value: unknown) {
    super(`bad physical memory access: ${what} = ${String(value)}`, { what, value });
  }
}

/** The memory map given to a machine is invalid (overlapping, unaligned or empty regions). */
export class MemoryMapError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "HW_BAD_MEMORY_MAP";
  /**
   * @param reason - what is wrong with the map.
   * @param context - the region(s) concerned.
   */
  constructor(reason: string, context: Record<string, unknown> = {}) {
    super(`invalid memory map: ${reason}`, context);
  }
}

/** A size string such as `"64G"` could not be parsed. */
export class SizeParseError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "HW_BAD_SIZE";
  /** @param text - the text that is not a size. */
  constructor(readonly text: string) {
    super(`not a size: "${text}" (expected e.g. 4096, 64K, 512M, 64G, 1T)`, { text });
  }
}

/** A zero-copy view was requested across a 2 MiB backing section, which the emulation cannot give. */
export class ViewStraddlesSectionError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "HW_VIEW_STRADDLES_SECTION";
  /**
   * @param phys - first byte of the view.
   * @param length - its length.
   */
  constructor(
    readonly phys: number,
    readonly length: number,
  ) {
    super(`a view of [${hex(phys)}, +${length}) would straddle a 2 MiB section; use read()/write()`, {
      phys,
      length,
    });
  }
}

/** A memory image file cannot be opened as the memory of a machine. */
export class MemoryImageError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "HW_BAD_MEMORY_IMAGE";
  /**
   * @param path - the image file.
   * @param reason - what is wrong.
   * @param context - sizes concerned.
   * @param cause - the underlying file system error.
   */
  constructor(path: string, reason: string, context: Record<string, unknown> = {}, cause?: unknown) {
    super(`memory image ${path} ${reason}`, { path, ...context }, { cause });
  }
}
