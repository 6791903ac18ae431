import { LiveUpdateError } from "@liveupdate/core";
import type { InspectProblem } from "./registry.js";

/** Turns a typed error into a problem of `where` (codes of its causes appended); rethrows anything else. */
export function problemOf(where: string, error: unknown): InspectProblem {
  if (!(error instanceof LiveUpdateError)) throw error;
  let message = error.message;
  let context: Readonly<Record<string, unknown>> = error.context;
  for (let cause = error.cause; cause instanceof LiveUpdateError; cause = cause.cause) {
    message += ` ← ${cause.code}: ${cause.message}`;
    context = { ...cause.context, ...context };
  }
  return { where, code: error.code, message, context };
}
