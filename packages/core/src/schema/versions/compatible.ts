import { SchemaDeclarationError } from "../errors.js";

const DRIVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const COMPATIBLE = /^(.+)-v([1-9][0-9]*)$/;

/**
 * Throws a {@link SchemaDeclarationError} unless `name` is a valid driver name: letters, digits,
 * `_`, `.` and `-`, starting with a letter or digit (upstream style: `memfd`, `vfio-pci`).
 *
 * @param name - the candidate driver name.
 */
export function assertDriverName(name: string): void {
  if (typeof name !== "string" || !DRIVER_NAME.test(name)) {
    throw new SchemaDeclarationError(`invalid driver name ${JSON.stringify(name)}`, { driver: String(name) });
  }
}

/**
 * The compatible string of version `version` of driver `driver`: `<driver>-v<version>`.
 *
 * @param driver - driver (versioned schema) name.
 * @param version - version number (≥ 1).
 * @example
 * ```ts
 * compatibleString("guestmemfs", 2); // "guestmemfs-v2"
 * ```
 */
export function compatibleString(driver: string, version: number): string {
  return `${driver}-v${version}`;
}

/** A compatible string split into its parts. */
export interface ParsedCompatible {
  /** Driver name. */
  readonly driver: string;
  /** Version number. */
  readonly version: number;
}

/**
 * Splits a compatible string into driver name and version, or returns `undefined` when it is not
 * of the form `<driver>-v<N>` (N without leading zeros).
 *
 * @param compatible - e.g. `"vfio-pci-v3"`.
 * @example
 * ```ts
 * parseCompatibleString("vfio-pci-v3"); // { driver: "vfio-pci", version: 3 }
 * ```
 */
export function parseCompatibleString(compatible: string): ParsedCompatible | undefined {
  if (typeof compatible !== "string") return undefined;
  const match = COMPATIBLE.exec(compatible);
  if (match === null) return undefined;
  const version = Number(match[2]);
  if (!Number.isSafeInteger(version) || !DRIVER_NAME.test(match[1]!)) return undefined;
  return { driver: match[1]!, version };
}
