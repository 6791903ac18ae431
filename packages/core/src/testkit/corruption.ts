import { hex } from "../common/errors.js";
import type { Prng } from "../common/prng.js";
import type { Machine } from "../hw/machine.js";
import type { PhysicalMemory } from "../hw/physical-memory.js";
import { GiB, PAGE_SIZE } from "../hw/units.js";
import { FdtBuilder } from "../kho/fdt/builder.js";
import { LUO_COMPATIBLE_LENGTH } from "../luo/handover-schema.js";
import { folioBytes } from "../luo/memory.js";
import type { SchemaVersion } from "../schema/versions/schema-version.js";
import {
  type HandoverFileImage,
  type HandoverRecordImage,
  LUO_RECORD_LAYOUT,
  type LuoHandoverImage,
} from "./handover-image.js";

/** The families of handover corruption the conformance suite applies. */
export type CorruptionKind = "bit-flip" | "truncation" | "pointer" | "compatible";

/** Every {@link CorruptionKind}, in the order trials cycle through them. */
export const CORRUPTION_KINDS: readonly CorruptionKind[] = Object.freeze([
  "bit-flip",
  "truncation",
  "pointer",
  "compatible",
]);

/** One planned corruption of the handover in memory. */
export interface Corruption {
  /** Its family. */
  readonly kind: CorruptionKind;
  /** What is changed, for reports (field, offset, old and new value). */
  readonly description: string;
  /** Applies it to physical memory (between the old kernel's reboot and the new kernel's boot). */
  apply(memory: PhysicalMemory): void;
  /**
   * Set when the corruption is in a page the object preserved in place (device memory, a table
   * the new kernel adopts) rather than in the handover: the handover still reads the same, so the
   * object may be restored (the page's content is the driver's to check) or refused, never crash.
   */
  readonly inPlace?: { readonly session: string; readonly token: bigint };
}

/** What a corruption is planned against. */
export interface CorruptionTarget {
  /** The machine (its memory map gives "beyond RAM" and "not preserved" addresses). */
  readonly machine: Machine;
  /** The handover, as written. */
  readonly image: LuoHandoverImage;
  /** The object aimed at. */
  readonly file: HandoverFileImage;
  /** The schema version its state was written in. */
  readonly version: SchemaVersion;
  /** Other versions of the same driver the new kernel reads (for wrong-version compatibles). */
  readonly otherReadable: readonly number[];
  /** Every folio KHO preserved (phys → order). */
  readonly preserved: ReadonlyMap<number, number>;
}

const L = LUO_RECORD_LAYOUT;

function describe(file: HandoverFileImage): string {
  return `session "${file.session}" token ${file.token}`;
}

function pick<T>(rng: Prng, items: readonly T[]): T {
  return items[rng.int(0, items.length - 1)]!;
}

function flipBit(at: number, bit: number, label: string): Corruption {
  return {
    kind: "bit-flip",
    description: `${label}: bit ${bit} of byte ${hex(at)}`,
    apply(memory) {
      memory.writeU8(at, memory.readU8(at) ^ (1 << bit));
    },
  };
}

function writeU64(kind: CorruptionKind, at: number, value: bigint, label: string): Corruption {
  return {
    kind,
    description: `${label} := ${hex(value)}`,
    apply(memory) {
      memory.writeU64(at, value);
    },
  };
}

function charsBytes(text: string, terminated = true): Uint8Array {
  const out = new Uint8Array(LUO_COMPATIBLE_LENGTH);
  if (!terminated) {
    out.fill(0x78);
    return out;
  }
  out.set(new TextEncoder().encode(text).subarray(0, LUO_COMPATIBLE_LENGTH - 1));
  return out;
}

/** The extent of an object's serialized state: from its first data folio to its last non-zero byte. */
function stateExtent(
  memory: PhysicalMemory,
  record: HandoverRecordImage,
  rootSize: number,
): { start: number; end: number } {
  const data = record.folios.filter((f) => f.data);
  let start = record.data;
  let end = record.data + rootSize;
  for (const f of data) {
    start = Math.min(start, f.phys);
    const bytes = memory.read(f.phys, folioBytes(f.order));
    let last = bytes.length - 1;
    while (last >= 0 && bytes[last] === 0) last--;
    end = Math.max(end, f.phys + Math.ceil((last + 1) / 8) * 8);
  }
  return { start, end };
}

/**
 * Addresses that are wrong for a pointer that held `original`, with what makes each wrong: beyond
 * RAM, above 2^53, misaligned, null, RAM nobody preserved, another object's memory, the object's
 * own (non-data) memory.
 */
function badAddresses(target: CorruptionTarget, original: number): { value: bigint; why: string }[] {
  const { machine, preserved, image, file } = target;
  const beyond = BigInt(Math.ceil(machine.memoryMap.end() / GiB) * GiB + GiB);
  let unpreserved: number | undefined;
  for (const r of machine.memoryMap.ram()) {
    for (
      let p = Math.ceil(r.base / PAGE_SIZE) * PAGE_SIZE + 256 * PAGE_SIZE;
      p + PAGE_SIZE <= r.base + r.size;
      p += 512 * PAGE_SIZE
    ) {
      if (![...preserved].some(([phys, order]) => p >= phys && p < phys + folioBytes(order))) {
        unpreserved = p;
        break;
      }
    }
    if (unpreserved !== undefined) break;
  }
  const others = image.sessions
    .flatMap((s) => s.files)
    .filter((f) => f !== file)
    .flatMap((f) => f.folios.filter((x) => !x.data));
  const own = file.folios.filter((x) => !x.data);
  const list: { value: bigint; why: string }[] = [
    { value: beyond, why: "beyond RAM" },
    { value: 1n << 60n, why: "above 2^53" },
    { value: BigInt(original + 1), why: "misaligned" },
    { value: 0n, why: "null" },
  ];
  if (unpreserved !== undefined) list.push({ value: BigInt(unpreserved), why: "RAM that was not preserved" });
  if (others.length > 0) list.push({ value: BigInt(others[0]!.phys), why: "another object's memory" });
  if (own.length > 0) list.push({ value: BigInt(own[0]!.phys), why: "the object's own (non-data) memory" });
  return list;
}

function rebuildSubtree(
  image: LuoHandoverImage,
  change: { compatible?: string; data?: bigint; folios?: readonly { phys: number; order: number }[] },
): Uint8Array {
  const folios = change.folios ?? image.subtree.folios;
  const list = new Uint8Array(folios.length * 16);
  const view = new DataView(list.buffer);
  folios.forEach((f, i) => {
    view.setBigUint64(i * 16, BigInt(f.phys), true);
    view.setUint32(i * 16 + 8, f.order, true);
  });
  return new FdtBuilder()
    .beginNode("")
    .propString("compatible", change.compatible ?? image.subtree.compatible)
    .propU64le("luo-data", change.data ?? BigInt(image.subtree.data))
    .propBytes("luo-folios", list)
    .endNode()
    .finish();
}

function writeSubtree(
  image: LuoHandoverImage,
  blob: Uint8Array,
  description: string,
  kind: CorruptionKind,
): Corruption {
  return {
    kind,
    description,
    apply(memory) {
      memory.write(image.subtree.phys, blob);
    },
  };
}

/**
 * Plans one corruption of family `kind` against `target`, choosing the field, bit or value with
 * `rng` (deterministic for a seed).
 *
 * - `bit-flip`: one bit anywhere in the object's serialized state, its `luo_file` record, its folio
 *   entries, its session record, the `luo_ser` header, an FLB record or the `luo` subtree blob, or
 *   in a page the object preserved in place (see {@link Corruption.inPlace});
 * - `truncation`: the state's tail zeroed, the folio list or the session's file list one entry
 *   shorter, the subtree blob's `totalsize` shortened, or the subtree's folio list shortened;
 * - `pointer`: a pointer of the handover (state, folio list, file list, session list, FLB list,
 *   `luo-data`, or a pointer field of the state) set beyond RAM, above 2^53, misaligned, to null,
 *   to memory that was not preserved, or to memory of another object;
 * - `compatible`: the object's compatible string replaced by an unknown version or driver, the
 *   empty string, `luo-v1`, 48 bytes without a terminator, another version the reader reads, or the
 *   `luo` subtree's compatible replaced by `luo-v2` or `kho-v1`.
 *
 * @param kind - the family.
 * @param target - the handover and the object aimed at.
 * @param rng - randomness.
 */
export function planCorruption(kind: CorruptionKind, target: CorruptionTarget, rng: Prng): Corruption {
  const { image, file, version, machine } = target;
  const memory = machine.memory;
  const who = describe(file);
  const session = image.sessions.find((s) => s.name === file.session)!;
  switch (kind) {
    case "bit-flip": {
      const extent = stateExtent(memory, file, version.size);
      const regions: { start: number; size: number; label: string; weight: number; inPlace?: boolean }[] = [
        { start: file.data, size: version.size, label: `${who}: serialized state`, weight: 6 },
        { start: file.record, size: L.file.size, label: `${who}: luo_file record`, weight: 3 },
        {
          start: session.record,
          size: L.session.size,
          label: `session "${file.session}": luo_session record`,
          weight: 1,
        },
        { start: image.header, size: L.header.size, label: "luo_ser header", weight: 1 },
        { start: image.subtree.phys, size: image.subtree.size, label: "luo subtree blob", weight: 1 },
      ];
      if (extent.end - extent.start > version.size) {
        regions.push({
          start: extent.start,
          size: extent.end - extent.start,
          label: `${who}: serialized state area`,
          weight: 2,
        });
      }
      if (file.folios.length > 0) {
        regions.push({
          start: file.foliosPtr,
          size: file.folios.length * L.folio.size,
          label: `${who}: folio entries`,
          weight: 2,
        });
      }
      // The object's own pages preserved in place: not handover data, but what its restore adopts.
      const inPlace = file.folios.find((x) => !x.data);
      if (inPlace !== undefined) {
        regions.push({
          start: inPlace.phys,
          size: folioBytes(inPlace.order),
          label: `${who}: in-place page ${hex(inPlace.phys)}`,
          weight: 3,
          inPlace: true,
        });
      }
      for (const flb of image.flbs) {
        regions.push({
          start: flb.record,
          size: L.flb.size,
          label: `FLB ${flb.compatible}: luo_flb record`,
          weight: 1,
        });
      }
      const total = regions.reduce((a, r) => a + r.weight, 0);
      let roll = rng.int(0, total - 1);
      let region = regions[0]!;
      for (const r of regions) {
        region = r;
        roll -= r.weight;
        if (roll < 0) break;
      }
      const offset = rng.int(0, region.size - 1);
      const flip = flipBit(region.start + offset, rng.int(0, 7), `${region.label} +${hex(offset)}`);
      return region.inPlace ? { ...flip, inPlace: { session: file.session, token: file.token } } : flip;
    }
    case "truncation": {
      const options: (() => Corruption)[] = [
        () => {
          const extent = stateExtent(memory, file, version.size);
          const cut = rng.int(file.data, Math.max(file.data, extent.end - 1));
          return {
            kind: "truncation",
            description: `${who}: serialized state zeroed from ${hex(cut)} to ${hex(extent.end)}`,
            apply(m) {
              m.fill(cut, extent.end - cut, 0);
            },
          };
        },
        () => ({
          kind: "truncation",
          description: `${who}: nr_folios ${file.folios.length} → ${Math.max(0, file.folios.length - 1)}`,
          apply(m) {
            m.writeU32(file.record + L.file.nr_folios, Math.max(0, file.folios.length - 1));
          },
        }),
        () => ({
          kind: "truncation",
          description: `session "${session.name}": nr_files ${session.files.length} → ${session.files.length - 1}`,
          apply(m) {
            m.writeU32(session.record + L.session.nr_files, session.files.length - 1);
          },
        }),
        () => {
          const size = rng.int(40, image.subtree.size - 1);
          return {
            kind: "truncation",
            description: `luo subtree blob: totalsize ${image.subtree.size} → ${size}`,
            apply(m) {
              const bytes = new Uint8Array(4);
              new DataView(bytes.buffer).setUint32(0, size, false);
              m.write(image.subtree.phys + 4, bytes);
            },
          };
        },
        () =>
          writeSubtree(
            image,
            rebuildSubtree(image, { folios: image.subtree.folios.slice(0, -1) }),
            `luo subtree: luo-folios ${image.subtree.folios.length} → ${image.subtree.folios.length - 1} entries`,
            "truncation",
          ),
      ];
      return pick(rng, options)();
    }
    case "pointer": {
      const fields: { at: number; original: number; label: string }[] = [
        { at: file.record + L.file.data, original: file.data, label: `${who}: luo_file.data` },
        { at: file.record + L.file.folios, original: file.foliosPtr, label: `${who}: luo_file.folios` },
        {
          at: session.record + L.session.files,
          original: session.filesPtr,
          label: `session "${session.name}": luo_session.files`,
        },
        {
          at: image.header + L.header.sessions,
          original: Number(memory.readU64(image.header + L.header.sessions)),
          label: "luo_ser.sessions",
        },
      ];
      if (image.flbs.length > 0) {
        fields.push({
          at: image.header + L.header.flbs,
          original: Number(memory.readU64(image.header + L.header.flbs)),
          label: "luo_ser.flbs",
        });
      }
      // The driver's own pointers (root-level fields of its state) count twice: they are what the
      // driver's schema, rather than the orchestrator's, has to catch.
      for (const field of version.layout.structs[0]!.fields) {
        const k = field.type.kind;
        if (k === "pointer" || k === "arrayPointer" || k === "areaPointer") {
          const at = file.data + field.offset;
          const entry = {
            at,
            original: Number(memory.readU64(at)),
            label: `${who}: state field ${field.name}`,
          };
          fields.push(entry, entry);
        }
      }
      if (rng.int(0, fields.length) === fields.length) {
        const bad = pick(rng, badAddresses(target, image.subtree.data));
        return writeSubtree(
          image,
          rebuildSubtree(image, { data: bad.value }),
          `luo subtree: luo-data := ${hex(bad.value)} (${bad.why})`,
          "pointer",
        );
      }
      const field = pick(rng, fields);
      const bad = pick(rng, badAddresses(target, field.original));
      return writeU64("pointer", field.at, bad.value, `${field.label} (${bad.why})`);
    }
    case "compatible": {
      const name = version.driver;
      const choices: { text: string; terminated: boolean; why: string }[] = [
        { text: `${name}-v${version.version + 100}`, terminated: true, why: "unknown version" },
        { text: `zz${name}-v${version.version}`, terminated: true, why: "unknown driver" },
        { text: "", terminated: true, why: "empty" },
        { text: "luo-v1", terminated: true, why: "the orchestrator's own compatible" },
        { text: "", terminated: false, why: "48 bytes without a NUL" },
        { text: `${name}-v0`, terminated: true, why: "version 0" },
      ];
      for (const other of target.otherReadable) {
        choices.push({
          text: `${name}-v${other}`,
          terminated: true,
          why: "another version the reader reads",
        });
        choices.push({
          text: `${name}-v${other}`,
          terminated: true,
          why: "another version the reader reads",
        });
      }
      if (rng.int(0, 4) === 0) {
        const compatible = pick(rng, ["luo-v2", "kho-v1", "luo-v1 "]);
        return writeSubtree(
          image,
          rebuildSubtree(image, { compatible }),
          `luo subtree: compatible "${image.subtree.compatible}" → "${compatible}"`,
          "compatible",
        );
      }
      const choice = pick(rng, choices);
      const bytes = charsBytes(choice.text, choice.terminated);
      return {
        kind: "compatible",
        description: `${who}: compatible "${file.compatible}" → ${choice.terminated ? `"${choice.text}"` : "48 × 'x'"} (${choice.why})`,
        apply(m) {
          m.write(file.record + L.file.compatible, bytes);
        },
      };
    }
  }
}
