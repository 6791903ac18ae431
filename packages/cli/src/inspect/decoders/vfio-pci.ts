import { hex } from "@liveupdate/core";
import type { ObjectContext, ObjectDecoder } from "../registry.js";

interface DeviceState {
  readonly bdf: number;
  readonly vendor_id: number;
  readonly device_id: number;
  readonly iommufd_token: bigint;
  readonly bars: ReadonlyArray<{ readonly index: number; readonly address: bigint; readonly size: bigint }>;
  readonly vectors: ReadonlyArray<{
    readonly index: number;
    readonly host_vector: number;
    readonly masked?: number;
  }>;
}

/** A vfio-pci device: its address and identity, BARs, MSI-X vectors and iommufd binding. */
export const VFIO_PCI_DECODER: ObjectDecoder = {
  driver: "vfio-pci",
  describe(ctx: ObjectContext) {
    const d = ctx.state as DeviceState;
    const bdf = `${hex(d.bdf >> 8)
      .slice(2)
      .padStart(2, "0")}:${((d.bdf >> 3) & 31).toString(16).padStart(2, "0")}.${d.bdf & 7}`;
    const bars = d.bars.map((b) => `BAR${b.index} ${hex(Number(b.address))} (${Number(b.size)} B)`);
    const vectors = d.vectors.map(
      (v) => `${v.index}→${hex(v.host_vector)}${v.masked === 1 ? " masked" : ""}`,
    );
    return {
      json: {
        bdf,
        vendor: hex(d.vendor_id),
        device: hex(d.device_id),
        bars,
        vectors,
        iommufdToken: hex(Number(d.iommufd_token)),
      },
      lines: [
        `device ${bdf} [${hex(d.vendor_id)}:${hex(d.device_id)}], bound to iommufd token ${hex(Number(d.iommufd_token))}`,
        `${bars.join(", ")}; MSI-X ${vectors.join(", ") || "none"}`,
      ],
      claims: [],
    };
  },
};
