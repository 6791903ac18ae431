import { hex, LiveUpdateError } from "../common/errors.js";

/** An API of a kernel (or of anything it owned) was used after that kernel rebooted. */
export class KernelGoneError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "KERNEL_GONE";
  /**
   * @param bootId - the boot the object belonged to.
   * @param what - the API or object that was used.
   */
  constructor(bootId: number, what: string) {
    super(`kernel of boot #${bootId} is gone (kexec'd away): cannot use ${what}`, { bootId, what });
  }
}

/** An allocation could not be satisfied. */
export class OutOfMemoryError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "KERNEL_OOM";
  /**
   * @param allocator - `"buddy"`, `"memblock"` or `"scratch"`.
   * @param bytes - size requested.
   * @param detail - why (e.g. "only scratch memory may be used before the handover is processed").
   */
  constructor(allocator: string, bytes: number, detail = "") {
    super(`${allocator}: out of memory allocating ${bytes} bytes${detail ? ` (${detail})` : ""}`, {
      allocator,
      bytes,
    });
  }
}

/** A free did not match an allocation (double free, wrong order, never allocated). */
export class BadFreeError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "KERNEL_BAD_FREE";
  /**
   * @param phys - address passed to free.
   * @param order - order passed to free.
   * @param reason - what does not match.
   */
  constructor(phys: number, order: number, reason: string) {
    super(`bad free of ${hex(phys)} order ${order}: ${reason}`, { phys, order });
  }
}

/** An allocator argument is out of range (order outside 0..10, size not positive, …). */
export class BadAllocationError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "KERNEL_BAD_ALLOCATION";
  /**
   * @param what - the argument.
   * @param value - its value.
   */
  constructor(what: string, value: unknown) {
    super(`bad allocation request: ${what} = ${String(value)}`, { what, value });
  }
}

/** The kernel command line has an option with an invalid value. */
export class CmdlineError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "KERNEL_BAD_CMDLINE";
  /**
   * @param option - the option name, e.g. `kho_scratch`.
   * @param value - its value.
   * @param reason - what is wrong.
   */
  constructor(option: string, value: string, reason: string) {
    super(`bad command line option ${option}=${value}: ${reason}`, { option, value });
  }
}

/** `reboot` was requested without a kexec image loaded. */
export class KexecNotLoadedError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "KEXEC_NOT_LOADED";
  /** @param bootId - the running boot. */
  constructor(bootId: number) {
    super(`boot #${bootId}: no kernel is kexec-loaded; call kexecLoad() before reboot()`, { bootId });
  }
}

/** A kernel operation was called in the wrong boot stage (e.g. allocating pages before the page allocator exists). */
export class BootStageError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "KERNEL_BAD_STAGE";
  /**
   * @param operation - what was attempted.
   * @param stage - the kernel's current stage.
   */
  constructor(operation: string, stage: string) {
    super(`${operation} is not possible while the kernel is ${stage}`, { operation, stage });
  }
}

/** The boot data handed over in memory (`setup_data` / `struct kho_data`) is malformed. */
export class BootDataError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "KERNEL_BAD_SETUP_DATA";
  /**
   * @param field - `type`, `len`, `fdt_addr`, …
   * @param value - the value found.
   * @param reason - what was expected.
   */
  constructor(field: string, value: unknown, reason: string) {
    super(`bad KHO setup_data: ${field} = ${String(value)}: ${reason}`, {
      structure: "setup_data",
      field,
      value,
    });
  }
}

/**
 * A boot-time carve-out cannot be placed: its command-line value is malformed, it is not aligned,
 * lies outside RAM, or overlaps memory already reserved (another carve-out, KHO scratch).
 */
export class CarveOutError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "KERNEL_CARVE_OUT";
  /**
   * @param label - the carve-out's label (e.g. `guestmemfs`).
   * @param field - what is wrong: `value`, `size`, `base`, `overlap`.
   * @param reason - why.
   * @param context - the values involved.
   */
  constructor(label: string, field: string, reason: string, context: Record<string, unknown> = {}) {
    super(`carve-out ${label}: ${field}: ${reason}`, { label, field, ...context });
  }
}
