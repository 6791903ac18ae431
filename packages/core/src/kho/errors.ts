import { hex, LiveUpdateError } from "../common/errors.js";

/**
 * Base of KHO errors. `errno` is the code upstream returns for the same failure, for readers who
 * map the emulation back to C.
 */
export abstract class KhoError extends LiveUpdateError {
  /** Upstream errno name, e.g. `"EBUSY"`. */
  abstract readonly errno: string;
}

/** KHO is not enabled on this boot (`kho=on` missing from the command line). */
export class KhoDisabledError extends KhoError {
  /** @inheritDoc */
  readonly code = "KHO_DISABLED";
  /** @inheritDoc */
  readonly errno = "EOPNOTSUPP";
  /** @param operation - what was attempted. */
  constructor(operation: string) {
    super(`${operation}: KHO is disabled on this boot (add kho=on to the command line)`, { operation });
  }
}

/** The outgoing handover is finalized; preservations are frozen until it is aborted. */
export class KhoFinalizedError extends KhoError {
  /** @inheritDoc */
  readonly code = "KHO_FINALIZED";
  /** @inheritDoc */
  readonly errno = "EBUSY";
  /** @param operation - what was attempted. */
  constructor(operation: string) {
    super(`${operation}: the KHO handover is finalized`, { operation });
  }
}

/** A preservation request names memory that cannot be preserved; subclasses say which rule. */
export abstract class KhoPreserveError extends KhoError {
  /** @inheritDoc */
  readonly errno: string = "EINVAL";
  /**
   * @param phys - start of the folio or range.
   * @param size - its size in bytes.
   * @param reason - human description.
   */
  constructor(phys: number, size: number, reason: string) {
    super(`cannot preserve [${hex(phys)}, +${hex(size)}): ${reason}`, { phys, size });
  }
}

/** The memory is not RAM (outside the memory map or firmware-reserved). */
export class KhoNotRamError extends KhoPreserveError {
  /** @inheritDoc */
  readonly code = "KHO_NOT_RAM";
}

/** The memory is free: nobody allocated it, so there is nothing to preserve. */
export class KhoMemoryFreeError extends KhoPreserveError {
  /** @inheritDoc */
  readonly code = "KHO_MEMORY_FREE";
}

/** The memory lies in a scratch area, which the next kernel boots in and overwrites. */
export class KhoInScratchError extends KhoPreserveError {
  /** @inheritDoc */
  readonly code = "KHO_IN_SCRATCH";
}

/** The address or size is not aligned to the page or folio size. */
export class KhoMisalignedError extends KhoPreserveError {
  /** @inheritDoc */
  readonly code = "KHO_MISALIGNED";
}

/** The folio order is outside 0..MAX_PAGE_ORDER. */
export class KhoBadOrderError extends KhoPreserveError {
  /** @inheritDoc */
  readonly code = "KHO_BAD_ORDER";
}

/** The memory overlaps memory that is already preserved. */
export class KhoOverlapError extends KhoPreserveError {
  /** @inheritDoc */
  readonly code = "KHO_OVERLAP";
}

/** Unpreserve or restore of memory that is not preserved (with that order). */
export class KhoNotPreservedError extends KhoError {
  /** @inheritDoc */
  readonly code = "KHO_NOT_PRESERVED";
  /** @inheritDoc */
  readonly errno = "EINVAL";
  /**
   * @param operation - `unpreserve` or `restore`.
   * @param phys - the address given.
   * @param order - the order given.
   * @param detail - e.g. "preserved with order 9".
   */
  constructor(operation: string, phys: number, order: number, detail = "not preserved") {
    super(`${operation} ${hex(phys)} order ${order}: ${detail}`, { operation, phys, order, detail });
  }
}

/** A preserved folio was restored a second time. */
export class KhoAlreadyRestoredError extends KhoError {
  /** @inheritDoc */
  readonly code = "KHO_ALREADY_RESTORED";
  /** @inheritDoc */
  readonly errno = "EINVAL";
  /**
   * @param phys - the folio.
   * @param order - its order.
   */
  constructor(phys: number, order: number) {
    super(`folio ${hex(phys)} order ${order} was already restored`, { phys, order });
  }
}

/** No subtree of that name in the incoming handover (or no handover at all). */
export class KhoSubtreeNotFoundError extends KhoError {
  /** @inheritDoc */
  readonly code = "KHO_SUBTREE_NOT_FOUND";
  /** @inheritDoc */
  readonly errno = "ENOENT";
  /** @param name - the subtree name. */
  constructor(name: string) {
    super(`no KHO subtree named "${name}" in the incoming handover`, { subtree: name });
  }
}

/** A subtree of that name was already added to the outgoing handover. */
export class KhoSubtreeExistsError extends KhoError {
  /** @inheritDoc */
  readonly code = "KHO_SUBTREE_EXISTS";
  /** @inheritDoc */
  readonly errno = "EEXIST";
  /** @param name - the subtree name. */
  constructor(name: string) {
    super(`KHO subtree "${name}" already exists`, { subtree: name });
  }
}

/** A subtree is unusable: bad name, unpreserved blob, bad `fdt` property, or a blob that is not an FDT. */
export class KhoBadSubtreeError extends KhoError {
  /** @inheritDoc */
  readonly code = "KHO_BAD_SUBTREE";
  /** @inheritDoc */
  readonly errno = "EINVAL";
  /**
   * @param name - the subtree name.
   * @param reason - what is wrong.
   * @param context - extra facts (phys, field).
   * @param cause - underlying error (e.g. an FDT parse error).
   */
  constructor(name: string, reason: string, context: Record<string, unknown> = {}, cause?: unknown) {
    super(`KHO subtree "${name}": ${reason}`, { subtree: name, ...context }, { cause });
  }
}

/**
 * The incoming handover is corrupt. `context` names the structure (`kho_data`, `kho_scratch`,
 * `fdt`, `khoser_mem_chunk`, `kho_mem_phys_bits`, `kho_vmalloc`…), its physical address, the
 * field and the offending value.
 */
export class KhoCorruptHandoverError extends KhoError {
  /** @inheritDoc */
  readonly code = "KHO_CORRUPT_HANDOVER";
  /** @inheritDoc */
  readonly errno = "EINVAL";
  /**
   * @param structure - which structure.
   * @param field - which field.
   * @param reason - what is wrong.
   * @param context - address, value, index….
   * @param cause - underlying error.
   */
  constructor(
    structure: string,
    field: string,
    reason: string,
    context: Record<string, unknown> = {},
    cause?: unknown,
  ) {
    super(
      `corrupt KHO handover: ${structure}.${field}: ${reason}`,
      { structure, field, ...context },
      { cause },
    );
  }
}

/** Scratch areas could not be reserved (too large for memory, or zero in total). */
export class KhoScratchError extends KhoError {
  /** @inheritDoc */
  readonly code = "KHO_SCRATCH";
  /** @inheritDoc */
  readonly errno = "ENOMEM";
  /**
   * @param reason - what failed.
   * @param context - sizes requested.
   * @param cause - underlying allocator error.
   */
  constructor(reason: string, context: Record<string, unknown> = {}, cause?: unknown) {
    super(`KHO scratch: ${reason}`, context, { cause });
  }
}

/** The root FDT does not fit in its page (too many or too long subtree names). */
export class KhoFdtFullError extends KhoError {
  /** @inheritDoc */
  readonly code = "KHO_FDT_FULL";
  /** @inheritDoc */
  readonly errno = "ENOMEM";
  /**
   * @param size - bytes the FDT needs.
   * @param limit - bytes available.
   */
  constructor(size: number, limit: number) {
    super(`the root KHO FDT needs ${size} bytes but only ${limit} are available`, { size, limit });
  }
}

/** A vmalloc preservation descriptor is unusable (bad flags, order, or page list). */
export class KhoVmallocError extends KhoError {
  /** @inheritDoc */
  readonly code = "KHO_BAD_VMALLOC";
  /** @inheritDoc */
  readonly errno = "EINVAL";
  /**
   * @param field - the `kho_vmalloc` field or chunk entry concerned.
   * @param reason - what is wrong.
   * @param context - values.
   */
  constructor(field: string, reason: string, context: Record<string, unknown> = {}) {
    super(`kho_vmalloc.${field}: ${reason}`, { field, ...context });
  }
}

/** An argument is malformed: a count that is not a positive safe integer, an order or address out of range. */
export class KhoBadArgumentError extends KhoError {
  /** @inheritDoc */
  readonly code = "KHO_BAD_ARGUMENT";
  /** @inheritDoc */
  readonly errno = "EINVAL";
  /**
   * @param operation - the API called.
   * @param argument - which argument.
   * @param value - its value.
   */
  constructor(operation: string, argument: string, value: unknown) {
    super(`${operation}: invalid ${argument} ${String(value)}`, { operation, argument, value });
  }
}

/** A restore or retrieve was attempted on a boot that received no KHO handover. */
export class KhoNoHandoverError extends KhoError {
  /** @inheritDoc */
  readonly code = "KHO_NO_HANDOVER";
  /** @inheritDoc */
  readonly errno = "ENOENT";
  /** @param operation - the API called. */
  constructor(operation: string) {
    super(`${operation}: this boot received no KHO handover`, { operation });
  }
}
