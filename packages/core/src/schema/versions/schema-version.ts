import { type Codec, codecFor } from "../codec/codec.js";
import { placeStruct } from "../declare/size.js";
import type { AnyStruct, Infer } from "../declare/types.js";
import { layoutOf } from "../layout/describe.js";
import { layoutHash } from "../layout/hash.js";
import type { SchemaLayout } from "../layout/types.js";
import { type IoType, ioTypeOf } from "../validate/io-types.js";
import { validate } from "../validate/validate.js";
import { compatibleString } from "./compatible.js";

/**
 * One version of a driver's preserved state: its struct and everything derived from it. Layout,
 * hash, codec and io-ts type are computed on first access and cached.
 *
 * @typeParam S - the version's root struct.
 */
export interface SchemaVersion<S extends AnyStruct = AnyStruct> {
  /** Driver (versioned schema) name. */
  readonly driver: string;
  /** Version number (1-based). */
  readonly version: number;
  /** Compatible string `<driver>-v<version>`. */
  readonly compatible: string;
  /** The root struct declaration. */
  readonly struct: S;
  /** Fixed size in bytes of the root struct. */
  readonly size: number;
  /** Canonical layout description (JSON-serialisable). */
  readonly layout: SchemaLayout;
  /** Stable layout hash (hex SHA-256), e.g. for lock files. */
  readonly hash: string;
  /** Compiled codec whose errors name this driver and version. */
  readonly codec: Codec<Infer<S>>;
  /** io-ts runtime type of decoded values. */
  readonly ioType: IoType<Infer<S>>;
  /** Validates a value of this version (see {@link validate}); errors name driver and version. */
  validate(value: unknown): Infer<S>;
}

/**
 * Creates the (lazily derived) {@link SchemaVersion} of `struct` as version `version` of `driver`.
 *
 * @param driver - driver name.
 * @param version - version number.
 * @param struct - root struct of that version.
 */
export function schemaVersion<S extends AnyStruct>(
  driver: string,
  version: number,
  struct: S,
): SchemaVersion<S> {
  let codec: Codec<Infer<S>> | undefined;
  return Object.freeze({
    driver,
    version,
    compatible: compatibleString(driver, version),
    struct,
    size: placeStruct(struct).size,
    get layout() {
      return layoutOf(struct);
    },
    get hash() {
      return layoutHash(struct);
    },
    get codec() {
      codec ??= codecFor(struct, { driver, version });
      return codec;
    },
    get ioType() {
      return ioTypeOf(struct);
    },
    validate(value: unknown) {
      return validate(struct, value, { driver, version });
    },
  });
}
