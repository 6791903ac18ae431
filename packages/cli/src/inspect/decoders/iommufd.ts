import { hex, PAGE_SIZE, type PhysicalMemory } from "@liveupdate/core";
import type { ObjectContext, ObjectDecoder } from "../registry.js";

interface ContextState {
  readonly hwpts: ReadonlyArray<{
    readonly hwpt_id: number;
    readonly domain_id: number;
    readonly top_table_phys: bigint;
  }>;
  readonly devices: ReadonlyArray<{ readonly rid: number; readonly pasid_dir_phys: bigint }>;
  readonly nested?: ReadonlyArray<{
    readonly hwpt_id: number;
    readonly domain_id: number;
    readonly first_stage_gpa: bigint;
  }>;
}

/** Most table pages walked per domain (a 48-bit space of 4 KiB leaves has about 2^27). */
const MAX_PAGES = 1 << 20;

/** The table pages of the 4-level second-stage tree under `top`, as the hardware walks it. */
function tablePages(memory: PhysicalMemory, top: number): number[] {
  const pages: number[] = [];
  const visit = (table: number, level: number): void => {
    if (pages.length >= MAX_PAGES) return;
    pages.push(table);
    if (level === 1) return;
    for (let i = 0; i < 512; i++) {
      const q = memory.readU64(table + i * 8);
      if ((q & 3n) === 0n) continue; // neither readable nor writable: not present
      if (level <= 3 && (q & 0x80n) !== 0n) continue; // a 2 MiB or 1 GiB leaf
      visit(Number(q & 0x000f_ffff_ffff_f000n), level - 1);
    }
  };
  visit(top, 4);
  return pages;
}

/**
 * An iommufd context: each domain (HWPT) with its id, top table and the table pages under it —
 * walked in the image as the hardware would — claimed as that domain's tables; its devices and
 * nested HWPTs.
 */
export const IOMMUFD_DECODER: ObjectDecoder = {
  driver: "iommufd",
  describe(ctx: ObjectContext) {
    const state = ctx.state as ContextState;
    const domains = state.hwpts.map((h) => {
      const pages = tablePages(ctx.memory, Number(h.top_table_phys));
      return {
        hwpt: h.hwpt_id,
        domainId: h.domain_id,
        top: hex(Number(h.top_table_phys)),
        tablePages: pages,
      };
    });
    const lines = domains.map(
      (d) =>
        `domain ${d.domainId} (HWPT ${d.hwpt}): top table ${d.top}, ${d.tablePages.length} table page(s)`,
    );
    for (const d of state.devices)
      lines.push(`device rid ${hex(d.rid)}: PASID directory ${hex(Number(d.pasid_dir_phys))}`);
    for (const n of state.nested ?? [])
      lines.push(
        `nested HWPT ${n.hwpt_id} (domain ${n.domain_id}): guest first-stage table at GPA ${hex(Number(n.first_stage_gpa))}`,
      );
    return {
      json: {
        domains: domains.map((d) => ({ ...d, tablePages: d.tablePages.map((p) => hex(p)) })),
        devices: state.devices.map((d) => ({
          rid: hex(d.rid),
          pasidDirectory: hex(Number(d.pasid_dir_phys)),
        })),
      },
      lines,
      claims: domains.flatMap((d) =>
        d.tablePages.map((phys) => ({ phys, size: PAGE_SIZE, owner: `iommufd domain ${d.domainId} tables` })),
      ),
    };
  },
};
