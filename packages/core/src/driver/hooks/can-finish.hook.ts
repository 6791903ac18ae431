import type { FinishContext } from "../../luo/handlers/contexts.js";

/**
 * `canFinish` — upstream `can_finish`: may the object's session be finished now? A session
 * finishes atomically: every object is asked first, and one `false` refuses the whole session with
 * `EBUSY` before any `finish` hook runs.
 *
 * @typeParam O - the driver's object type.
 */
export interface CanFinish<O = unknown> {
  /** Returns false to keep the session open (e.g. DMA still targets old mappings). */
  canFinish(object: O, ctx: FinishContext): boolean;
}

/** The function type of a `canFinish` hook. */
export type CanFinishHook<O = never> = (object: O, ctx: FinishContext) => boolean;
