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
  /** The original text (what the boot loader or kexec passed; without the built-in part). */
  readonly text: string;
  /** The build's built-in command line (`CONFIG_CMDLINE`), parsed before `text`. */
  readonly builtin: string;
  private readonly values = new Map<string, string>();

  /**
   * @param text - the command line.
   * @param builtin - the build's built-in command line; `text` overrides it word by word, as
   *   `CONFIG_CMDLINE_BOOL` without `CONFIG_CMDLINE_OVERRIDE` does.
   */
  constructor(text = "", builtin = "") {
    this.text = text;
    this.builtin = builtin;
    for (const word of `${builtin} ${text}`.split(/\s+/).filter((w) => w.length > 0)) {
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
