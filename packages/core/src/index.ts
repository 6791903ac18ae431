/**
 * `@liveupdate/core` — the liveupdate SDK.
 *
 * @packageDocumentation
 */
export { hex, LiveUpdateError } from "./common/errors.js";
