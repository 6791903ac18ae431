/** The `virtual-addresses` check: no word of the handover data looks like a kernel virtual address. */
import { hex } from "../../common/errors.js";
import { VirtualLayout } from "../../kernel/layout.js";
import type { LiveUpdateKernel } from "../../luo/boot.js";
import { folioBytes } from "../../luo/memory.js";
import type { LuoHandoverImage } from "../handover-image.js";
import { type CheckOutput, type Env, errorText, newOutput, start } from "../scenario.js";

/** Runs the `virtual-addresses` check. */
export function checkVirtualAddresses(env: Env): CheckOutput {
  const out = newOutput();
  const s = start(env, env.Driver, env.Driver, 4);
  let scanned = 0;
  const scan = (
    image: LuoHandoverImage,
    machine: LiveUpdateKernel["machine"],
    previous: LiveUpdateKernel,
  ) => {
    const memory = machine.memory;
    const regions: {
      label: string;
      base: number;
      bytes: Uint8Array;
      fieldAt?: (offset: number) => string | undefined;
    }[] = [
      {
        label: "luo subtree blob",
        base: image.subtree.phys,
        bytes: memory.read(image.subtree.phys, image.subtree.size),
      },
    ];
    for (const f of image.subtree.folios) {
      regions.push({ label: "LUO handover", base: f.phys, bytes: memory.read(f.phys, folioBytes(f.order)) });
    }
    const records = [
      ...image.sessions.flatMap((sess) =>
        sess.files.map((f) => ({ label: `session "${f.session}" token ${f.token}`, r: f })),
      ),
      ...image.flbs.map((f) => ({ label: `FLB ${f.compatible}`, r: f })),
    ];
    for (const { label, r } of records) {
      const schema = r.compatible.startsWith(`${env.meta.name}-v`) ? env.meta.schema : undefined;
      const version = schema?.has(schema.parseCompatible(r.compatible))
        ? schema.version(schema.parseCompatible(r.compatible))
        : undefined;
      for (const f of r.folios.filter((x) => x.data)) {
        regions.push({
          label: `${label} serialized state (${r.compatible})`,
          base: f.phys,
          bytes: memory.read(f.phys, folioBytes(f.order)),
          fieldAt: (offset) => {
            const at = f.phys + offset - r.data;
            if (version === undefined || at < 0 || at >= version.size) return undefined;
            return version.layout.structs[0]!.fields.find((x) => at >= x.offset && at < x.offset + x.size)
              ?.name;
          },
        });
      }
    }
    for (const region of regions) {
      scanned += region.bytes.length;
      for (const offset of VirtualLayout.findVirtualAddresses(region.bytes)) {
        const value = new DataView(region.bytes.buffer, region.bytes.byteOffset + offset, 8).getBigUint64(
          0,
          true,
        );
        const field = region.fieldAt?.(offset);
        const va = previous.kernel.layout.virtToPhys(value);
        out.failures.push({
          message:
            `${region.label} at ${hex(region.base + offset)}${field !== undefined ? ` (field ${field})` : ""} holds ` +
            `${hex(value)}, which looks like ${va !== undefined ? `a direct-map virtual address of the old boot (its __va(${hex(va)}))` : "a kernel virtual address"}: ` +
            `handover data must hold physical addresses only${field !== undefined ? ` — store the physical address in ${field}` : ""}`,
        });
      }
    }
  };
  let previousKernel: LiveUpdateKernel | undefined;
  try {
    s.harness.update({
      frozen: (lk) => {
        previousKernel = lk;
      },
      beforeBoot: (image, machine) => scan(image, machine, previousKernel!),
    });
  } catch (error) {
    out.failures.push({ message: `the update failed: ${errorText(error)}`, error });
  }
  out.details.push(`scanned ${scanned} bytes of handover data (LUO subtree, LUO records, serialized states)`);
  out.summary = `no kernel virtual address in ${scanned} bytes of handover data`;
  return out;
}
