import type { Machine } from "../../src/hw/machine.js";
import type { BootData } from "../../src/kernel/boot-data.js";
import { decodeFdt } from "../../src/kho/fdt/parser.js";
import { LUO_SUBTREE, LuoFileV1, LuoHandoverV1, LuoSessionV1 } from "../../src/luo/handover-schema.js";
import { layoutOf } from "../../src/schema/index.js";

/** Offset of `field` in the root struct of `struct`. */
export const offsetOf = (struct: Parameters<typeof layoutOf>[0], field: string): number =>
  layoutOf(struct).structs[0]!.fields.find((f) => f.name === field)!.offset;

/** Raw view of the orchestrator's handover in memory, to play the hostile old kernel. */
export function luoHandover(machine: Machine, bootData: BootData) {
  const memory = machine.memory;
  const root = decodeFdt(memory.read(bootData.fdtAddr, bootData.fdtSize));
  const subtreePhys = Number(root.root.child(LUO_SUBTREE)!.getU64le("fdt"));
  const size = new DataView(memory.read(subtreePhys + 4, 4).buffer).getUint32(0, false);
  const subtree = decodeFdt(memory.read(subtreePhys, size)).root;
  const header = Number(subtree.getU64le("luo-data"));
  const sessionSize = layoutOf(LuoSessionV1).size;
  const fileSize = layoutOf(LuoFileV1).size;
  const sessions = Number(memory.readU64(header + offsetOf(LuoHandoverV1, "sessions")));
  const flbs = Number(memory.readU64(header + offsetOf(LuoHandoverV1, "flbs")));
  return {
    header,
    flbs,
    /** Physical address of file `f` of session `s`. */
    file(s: number, f: number): number {
      const files = Number(memory.readU64(sessions + s * sessionSize + offsetOf(LuoSessionV1, "files")));
      return files + f * fileSize;
    },
    /** Physical address of the serialized state of file `f` of session `s`. */
    data(s: number, f: number): number {
      return Number(memory.readU64(this.file(s, f) + offsetOf(LuoFileV1, "data")));
    },
  };
}
