import { createHash } from "node:crypto";
import { type PhysicalMemory, SECTION_SIZE } from "@liveupdate/core";
import type { MappedExtent } from "@liveupdate/guestmemfs";

/** Bytes per digested block: one 2 MiB extent (= one backing section of physical memory). */
export const DIGEST_BLOCK = SECTION_SIZE;

const uniformHashes = new Map<number, Buffer>();

/** SHA-256 of a whole block of `byte` (computed once per byte value). */
function uniformHash(byte: number): Buffer {
  let h = uniformHashes.get(byte);
  if (h === undefined) {
    h = createHash("sha256").update(new Uint8Array(DIGEST_BLOCK).fill(byte)).digest();
    uniformHashes.set(byte, h);
  }
  return h;
}

/** SHA-256 of one block's bytes. */
export function blockHash(bytes: Uint8Array): Buffer {
  return createHash("sha256").update(bytes).digest();
}

/**
 * The digest of a VM's RAM, block by block: the SHA-256 of each 2 MiB block of guest-physical
 * memory, in guest-physical order, and their combination. A block nobody wrote since power-on is
 * hashed from its fill byte without being read ({@link PhysicalMemory.uniformSectionByte}), so a
 * 48 GiB VM costs what it touched — yet the digest is a function of the content alone: an untouched
 * block and a block written with zeroes hash alike.
 */
export class RamDigest {
  /**
   * @param blocks - per-block hashes, in guest-physical order.
   */
  constructor(readonly blocks: readonly Buffer[]) {}

  /**
   * Digests RAM given as its extents (each 2 MiB aligned, as guestmemfs extents are).
   *
   * @param memory - physical memory.
   * @param extents - guest-physical → host-physical pieces of the RAM, in order.
   */
  static of(memory: PhysicalMemory, extents: readonly MappedExtent[]): RamDigest {
    const blocks: Buffer[] = [];
    for (const e of extents) {
      for (let at = 0; at < e.size; at += DIGEST_BLOCK) {
        const phys = e.hostPhys + at;
        const byte = memory.uniformSectionByte(phys);
        blocks.push(byte !== undefined ? uniformHash(byte) : blockHash(memory.peek(phys, DIGEST_BLOCK)));
      }
    }
    return new RamDigest(blocks);
  }

  /** A copy in which the blocks of `replaced` (block index → its 2 MiB of content) are hashed anew. */
  withBlocks(replaced: ReadonlyMap<number, Uint8Array>): RamDigest {
    const blocks = [...this.blocks];
    for (const [index, bytes] of replaced) blocks[index] = blockHash(bytes);
    return new RamDigest(blocks);
  }

  /** `sha256:` and the hex SHA-256 of the block hashes in order. */
  toString(): string {
    const h = createHash("sha256");
    for (const b of this.blocks) h.update(b);
    return `sha256:${h.digest("hex")}`;
  }
}
