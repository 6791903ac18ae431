import { hex, PAGE_SIZE } from "@liveupdate/core";
import type { ObjectContext, ObjectDecoder } from "../registry.js";

interface RingState {
  readonly capacity: number;
  readonly head: number;
  readonly tail: number;
  readonly page: bigint;
}

/**
 * The counter-ring example's rings: the live counters, read from the preserved page the state
 * points at (oldest first), as the new kernel's `read()` would return them.
 */
export const COUNTER_RING_DECODER: ObjectDecoder = {
  driver: "counter-ring",
  describe(ctx: ObjectContext) {
    const ring = ctx.state as RingState;
    const page = Number(ring.page);
    const listed = ctx.record.folios.some((f) => f.phys === page && !f.data);
    const length = ((ring.head - ring.tail + ring.capacity) % ring.capacity) + 1;
    const counters = listed
      ? Array.from({ length }, (_, i) => ctx.memory.readU32(page + 4 * ((ring.tail + i) % ring.capacity)))
      : [];
    return {
      json: { page: hex(page), pageListed: listed, counters },
      lines: [
        listed
          ? `counters (page ${hex(page)}) ${counters.join(", ")}`
          : `counter page ${hex(page)} is not among the object's folios`,
      ],
      claims: listed ? [{ phys: page, size: PAGE_SIZE, owner: `counter-ring pages` }] : [],
    };
  },
};
