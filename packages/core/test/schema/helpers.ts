/** Shared imports and small helpers for the schema tests. */
export * from "../../src/schema/index.js";

/** The parts of a LiveUpdateError the tests look at. */
export interface LiveUpdateErrorLike {
  readonly code: string;
  readonly context: Readonly<Record<string, unknown>>;
}

/** The `code` of the error `f` throws, or `undefined` when it does not throw. */
export function errorCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as LiveUpdateErrorLike).code;
  }
  return undefined;
}

/** The error `f` throws (fails the test when it does not throw). */
export function caught(f: () => unknown): LiveUpdateErrorLike & Error {
  try {
    f();
  } catch (e) {
    return e as LiveUpdateErrorLike & Error;
  }
  throw new Error("expected an error");
}
