import type { AnyStruct } from "../declare/types.js";
import { emitDecodeStruct } from "./decode-gen.js";
import { Emitter } from "./emitter.js";
import { emitEncodeStruct } from "./encode-gen.js";

/**
 * Collects the struct functions of one generated codec: `E<k>`/`D<k>` for the root (`k = 0`) and
 * for every pointee struct that itself contains pointers (these are called, not inlined, so
 * recursive declarations terminate). Everything else is inlined as straight-line code.
 *
 * @internal
 */
export class Program {
  private readonly indices = new Map<AnyStruct, number>();
  private readonly queue: AnyStruct[] = [];

  /** Index of the function pair of `struct`, scheduling its generation on first use. */
  functionOf(struct: AnyStruct): number {
    let index = this.indices.get(struct);
    if (index === undefined) {
      index = this.indices.size;
      this.indices.set(struct, index);
      this.queue.push(struct);
    }
    return index;
  }

  /** Generates the source of a module body returning `{ encode, decode }` for `root`. */
  generate(root: AnyStruct): string {
    this.functionOf(root);
    const parts: string[] = ['"use strict";'];
    for (let k = 0; k < this.queue.length; k++) {
      const struct = this.queue[k]!;
      const enc = new Emitter();
      emitEncodeStruct(
        { em: enc, program: this },
        struct,
        "v",
        { u8: "u8", dv: "dv", base: "o", k: 0 },
        { base: "p", parts: [] },
      );
      parts.push(`// struct ${struct.name}\nfunction E${k}(v, u8, dv, o, c, p) {\n${enc.source()}\n}`);
      const dec = new Emitter();
      // A decoder's own path is `(p, i)`: the caller's path and, for an array element, its index.
      const result = emitDecodeStruct(
        { em: dec, program: this },
        struct,
        { u8: "u8", dv: "dv", base: "o", k: 0 },
        { base: "p", index: "i", parts: [] },
      );
      dec.line(`return ${result};`);
      parts.push(`function D${k}(u8, dv, o, c, p, i) {\n${dec.source()}\n}`);
    }
    parts.push("return { encode: E0, decode: D0 };");
    return parts.join("\n");
  }
}

/** What the type-level generators share: the emitter of the current function and the program. */
export interface Gen {
  /** Emitter of the function being generated. */
  readonly em: Emitter;
  /** The program, for struct function indices. */
  readonly program: Program;
}
