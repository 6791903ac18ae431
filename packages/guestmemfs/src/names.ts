import { NAME_MAX } from "./abi.js";

const encoder = new TextEncoder();

/**
 * Why `name` is not a valid guestmemfs file name (1..255 bytes of UTF-8, no `/` or NUL, not `.`
 * or `..`), or undefined when it is.
 */
export function badNameReason(name: unknown): string | undefined {
  if (typeof name !== "string" || name.length === 0) return "empty";
  // A UTF-16 unit takes at most 3 bytes of UTF-8: short names need no encoding to be measured.
  if (name.length > NAME_MAX / 3 && encoder.encode(name).length > NAME_MAX)
    return `longer than ${NAME_MAX} bytes`;
  if (name.includes("/") || name.includes("\0")) return "contains / or NUL";
  if (name === "." || name === "..") return "is . or ..";
  return undefined;
}
