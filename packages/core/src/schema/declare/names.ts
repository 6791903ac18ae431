import { SchemaDeclarationError } from "../errors.js";

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** C11 keywords and a few names that would break generated C or JavaScript. */
const FORBIDDEN = new Set([
  "auto",
  "break",
  "case",
  "char",
  "const",
  "continue",
  "default",
  "do",
  "double",
  "else",
  "enum",
  "extern",
  "float",
  "for",
  "goto",
  "if",
  "inline",
  "int",
  "long",
  "register",
  "restrict",
  "return",
  "short",
  "signed",
  "sizeof",
  "static",
  "struct",
  "switch",
  "typedef",
  "union",
  "unsigned",
  "void",
  "volatile",
  "while",
  "_Alignas",
  "_Alignof",
  "_Atomic",
  "_Bool",
  "_Complex",
  "_Generic",
  "_Imaginary",
  "_Noreturn",
  "_Static_assert",
  "_Thread_local",
  "__proto__",
]);

/**
 * Throws a {@link SchemaDeclarationError} unless `name` is a C identifier that is neither a C
 * keyword nor `__proto__` (names appear verbatim in generated C headers and JavaScript).
 *
 * @param name - the identifier to check.
 * @param what - what is being named, for the message (e.g. `"field"`).
 * @param context - location facts for the error.
 */
export function assertIdentifier(name: string, what: string, context: Record<string, unknown> = {}): void {
  if (typeof name !== "string" || !IDENTIFIER.test(name) || FORBIDDEN.has(name)) {
    throw new SchemaDeclarationError(`invalid ${what} name ${JSON.stringify(name)}: must be a C identifier`, {
      ...context,
      name,
    });
  }
}
