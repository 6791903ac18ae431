import { hex, orderBytes, PAGE_SIZE } from "@liveupdate/core";
import type { FolioClaim, Inspection, SubtreeContext, SubtreeDecoder } from "../registry.js";

/**
 * The KHO self-test's subtree (`kho-test-v1`, as upstream `lib/test_kho.c`): `data/folios_info`
 * packs each folio's `phys | order`, `data/csum` their checksums.
 */
export const KHO_TEST_DECODER: SubtreeDecoder = {
  compatible: "kho-test-v1",
  inspect(ctx: SubtreeContext): Inspection {
    const root = ctx.subtree.tree.root;
    const data = root.getChild("data");
    const count = data.getU32("nr_folios");
    const info = data.getBytes("folios_info");
    const view = new DataView(info.buffer, info.byteOffset, info.byteLength);
    const claims: FolioClaim[] = [];
    const perOrder = new Map<number, number>();
    for (let i = 0; i + 8 <= info.length && i / 8 < count; i += 8) {
      const packed = view.getBigUint64(i, true);
      const phys = Number(packed & ~BigInt(PAGE_SIZE - 1));
      const order = Number(packed & BigInt(PAGE_SIZE - 1));
      claims.push({ phys, size: orderBytes(order), owner: "kho_test folios" });
      perOrder.set(order, (perOrder.get(order) ?? 0) + 1);
    }
    const orders = [...perOrder].sort((a, b) => a[0] - b[0]);
    return {
      json: { magic: hex(root.getU32("magic")), nrFolios: count, perOrder: Object.fromEntries(orders) },
      lines: [
        `magic ${hex(root.getU32("magic"))}, ${count} test folio(s): ${orders.map(([o, n]) => `${n}×order ${o}`).join(", ")}`,
      ],
      claims,
      problems: [],
    };
  },
};
