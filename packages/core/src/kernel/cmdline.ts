/**
 * A parsed kernel command line: `key=value` and bare `flag` words separated by spaces, later
 * occurrences winning, like the kernel's `parse_args()` for `early_param`s.
 *
 * @example
 * ```ts
 * const cmdline = new KernelCmdline("kho=on kho_scratch=16M,512M,256M quiet");
 * cmdline.get("kho_scratch"); // "16M,512M,256M"
 * cmdline.has("quiet"); // true
 * ```
 */
export class KernelCmdline {
  /** The original text. */
  readonly text: string;
  private readonly values = new Map<string, string>();

  /** @param text - the command line. */
  constructor(text = "") {
    this.text = text;
    for (const word of text.split(/\s+/).filter((w) => w.length > 0)) {
      const eq = word.indexOf("=");
      if (eq < 0) this.values.set(word, "");
      else this.values.set(word.slice(0, eq), word.slice(eq + 1));
    }
  }

  /** The value of `key` (`""` for a bare flag), or undefined when absent. */
  get(key: string): string | undefined {
    return this.values.get(key);
  }

  /** True when `key` appears, with or without a value. */
  has(key: string): boolean {
    return this.values.has(key);
  }

  /** Interprets `key` as a kernel boolean (`1/y/yes/on/true` vs `0/n/no/off/false`); bare flag = true. */
  getBool(key: string, fallback: boolean): boolean {
    const value = this.values.get(key);
    if (value === undefined) return fallback;
    if (value === "") return true;
    if (/^(1|y|yes|on|true)$/i.test(value)) return true;
    if (/^(0|n|no|off|false)$/i.test(value)) return false;
    return fallback;
  }
}
