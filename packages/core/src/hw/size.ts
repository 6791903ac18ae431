import { SizeParseError } from "./errors.js";
import { GiB, KiB, MiB, TiB } from "./units.js";

const SUFFIX: Record<string, number> = { "": 1, K: KiB, M: MiB, G: GiB, T: TiB };

/**
 * Parses a size the way the kernel's `memparse()` does: a decimal or `0x` number followed by an
 * optional `K`, `M`, `G` or `T` suffix (case-insensitive, optional trailing `iB`/`B`).
 *
 * @example
 * ```ts
 * parseSize("64G"); // 68719476736
 * parseSize("0x1000"); // 4096
 * ```
 * @throws {@link SizeParseError} when the text is not a size or not a safe integer.
 */
export function parseSize(text: string): number {
  const match = /^(0x[0-9a-f]+|\d+)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) throw new SizeParseError(text);
  const value = Number(match[1]) * SUFFIX[match[2]!.toUpperCase()]!;
  if (!Number.isSafeInteger(value)) throw new SizeParseError(text);
  return value;
}
