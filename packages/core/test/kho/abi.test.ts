import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  KHO_DATA_SIZE,
  KHO_MEM_PHYS_BITS_SIZE,
  KHO_SCRATCH,
  KHO_VMALLOC,
  KHO_VMALLOC_CHUNK,
  KHOSER_BITMAP_SIZE,
  KHOSER_MEM_BITMAP_PTR,
  KHOSER_MEM_CHUNK_HDR,
  KHOSER_MEM_CHUNK_SIZE,
  PRESERVE_BITS,
  SETUP_DATA_HEADER,
} from "@liveupdate/core";
import { describe, expect, it } from "vitest";

/** The upstream declarations, transcribed to plain C (6.16 memory map; later vmalloc ABI; x86 kho_data). */
const C_SOURCE = String.raw`
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#define PAGE_SIZE 4096
#define PRESERVE_BITS (512 * 8)
struct kho_mem_phys_bits { uint64_t preserve[PRESERVE_BITS / 64]; };
struct khoser_mem_bitmap_ptr { uint64_t phys_start; uint64_t bitmap; };
struct khoser_mem_chunk_hdr { uint64_t next; unsigned int order; unsigned int num_elms; };
#define KHOSER_BITMAP_SIZE ((PAGE_SIZE - sizeof(struct khoser_mem_chunk_hdr)) / sizeof(struct khoser_mem_bitmap_ptr))
struct khoser_mem_chunk { struct khoser_mem_chunk_hdr hdr; struct khoser_mem_bitmap_ptr bitmaps[KHOSER_BITMAP_SIZE]; };
struct kho_scratch { uint64_t addr; uint64_t size; };
struct kho_vmalloc { uint64_t first; unsigned int total_pages; unsigned short flags; unsigned short order; };
#define KHO_VMALLOC_SIZE ((PAGE_SIZE - sizeof(uint64_t)) / sizeof(uint64_t))
struct kho_vmalloc_chunk { uint64_t next; uint64_t phys[KHO_VMALLOC_SIZE]; };
struct setup_data { uint64_t next; uint32_t type; uint32_t len; uint8_t data[]; };
struct kho_data { uint64_t fdt_addr; uint64_t fdt_size; uint64_t scratch_addr; uint64_t scratch_size; } __attribute__((packed));
_Static_assert(sizeof(struct khoser_mem_chunk) == PAGE_SIZE, "chunk is a page");
int main(void) {
  printf("{\"bits\":%zu,\"preserve_bits\":%d,\"chunk\":%zu,\"entries\":%zu,\"hdr\":[%zu,%zu,%zu,%zu],",
    sizeof(struct kho_mem_phys_bits), PRESERVE_BITS, sizeof(struct khoser_mem_chunk), (size_t)KHOSER_BITMAP_SIZE,
    offsetof(struct khoser_mem_chunk_hdr, next), offsetof(struct khoser_mem_chunk_hdr, order),
    offsetof(struct khoser_mem_chunk_hdr, num_elms), sizeof(struct khoser_mem_chunk_hdr));
  printf("\"ptr\":[%zu,%zu,%zu],\"scratch\":[%zu,%zu,%zu],",
    offsetof(struct khoser_mem_bitmap_ptr, phys_start), offsetof(struct khoser_mem_bitmap_ptr, bitmap),
    sizeof(struct khoser_mem_bitmap_ptr), offsetof(struct kho_scratch, addr), offsetof(struct kho_scratch, size),
    sizeof(struct kho_scratch));
  printf("\"setup_data\":[%zu,%zu,%zu,%zu],", offsetof(struct setup_data, next), offsetof(struct setup_data, type),
    offsetof(struct setup_data, len), sizeof(struct setup_data));
  printf("\"vmalloc\":[%zu,%zu,%zu,%zu,%zu],\"vchunk\":[%zu,%zu,%zu],\"kho_data\":%zu}\n",
    offsetof(struct kho_vmalloc, first), offsetof(struct kho_vmalloc, total_pages), offsetof(struct kho_vmalloc, flags),
    offsetof(struct kho_vmalloc, order), sizeof(struct kho_vmalloc), offsetof(struct kho_vmalloc_chunk, next),
    offsetof(struct kho_vmalloc_chunk, phys), (size_t)KHO_VMALLOC_SIZE, sizeof(struct kho_data));
  return 0;
}
`;

describe("the pinned kho-v1 ABI", () => {
  it("matches the upstream struct layouts as compiled by gcc", () => {
    const gcc = spawnSync("sh", ["-c", "command -v gcc"], { encoding: "utf8" }).stdout.trim();
    if (gcc === "") throw new Error("gcc is not installed (CI installs it)");
    const dir = mkdtempSync(join(tmpdir(), "lu-abi-"));
    writeFileSync(join(dir, "abi.c"), C_SOURCE);
    execFileSync(gcc, ["-std=c11", "-Wall", "-Werror", "-o", join(dir, "abi"), join(dir, "abi.c")]);
    const c = JSON.parse(execFileSync(join(dir, "abi"), { encoding: "utf8" }));
    expect(c.bits).toBe(KHO_MEM_PHYS_BITS_SIZE);
    expect(c.preserve_bits).toBe(PRESERVE_BITS);
    expect(c.chunk).toBe(KHOSER_MEM_CHUNK_SIZE);
    expect(c.entries).toBe(KHOSER_BITMAP_SIZE);
    expect(c.hdr).toEqual([
      KHOSER_MEM_CHUNK_HDR.next,
      KHOSER_MEM_CHUNK_HDR.order,
      KHOSER_MEM_CHUNK_HDR.numElms,
      KHOSER_MEM_CHUNK_HDR.size,
    ]);
    expect(c.ptr).toEqual([
      KHOSER_MEM_BITMAP_PTR.physStart,
      KHOSER_MEM_BITMAP_PTR.bitmap,
      KHOSER_MEM_BITMAP_PTR.size,
    ]);
    expect(c.scratch).toEqual([KHO_SCRATCH.addr, KHO_SCRATCH.size, KHO_SCRATCH.sizeof]);
    expect(c.vmalloc).toEqual([
      KHO_VMALLOC.first,
      KHO_VMALLOC.totalPages,
      KHO_VMALLOC.flags,
      KHO_VMALLOC.order,
      KHO_VMALLOC.sizeof,
    ]);
    expect(c.vchunk).toEqual([KHO_VMALLOC_CHUNK.next, KHO_VMALLOC_CHUNK.phys, KHO_VMALLOC_CHUNK.entries]);
    expect(c.kho_data).toBe(KHO_DATA_SIZE);
    expect(c.setup_data).toEqual([
      SETUP_DATA_HEADER.next,
      SETUP_DATA_HEADER.type,
      SETUP_DATA_HEADER.len,
      SETUP_DATA_HEADER.size,
    ]);
  });
});
