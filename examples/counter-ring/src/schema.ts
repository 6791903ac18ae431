/**
 * The preserved state of a counter ring, as versioned binary structs. This is what crosses the
 * kexec in the handover: the counters themselves stay in the device's page, which is preserved
 * as is; the struct records where that page is and how the ring is laid out in it.
 */
import {
  arrayPointer,
  type Infer,
  reserved,
  struct,
  u8,
  u16,
  u32,
  u64,
  versionedSchema,
} from "@liveupdate/core";

/** Counters per ring page: one 4 KiB page of u32 counters. */
export const MAX_CAPACITY = 1024;

/** Per-slot flag (v2): the counter overflowed (wrapped or saturated) since the slot was opened. */
export const SLOT_OVERFLOWED = 0x1;

/** Ring modes (v2): what an increment does at 2^32 − 1. */
export const RING_MODES = { wrap: 0, saturate: 1 } as const;

// #region v1
/** Version 1: geometry and the physical address of the counter page. */
export const CounterRingV1 = struct("counter_ring_v1", {
  id: u32(),
  capacity: u16({ min: 1, max: MAX_CAPACITY }),
  head: u16({ max: MAX_CAPACITY - 1 }),
  tail: u16({ max: MAX_CAPACITY - 1 }),
  _reserved: reserved(6),
  page: u64(),
});
export type CounterRingV1Value = Infer<typeof CounterRingV1>;
// #endregion v1

// #region v2
/**
 * Version 2 adds the ring mode, per-slot overflow flags (an array in preserved memory, its length
 * in `nr_flags`) and a seal: a checksum of every other field, so a corrupted state is refused.
 */
export const CounterRingV2 = struct("counter_ring_v2", {
  id: u32(),
  capacity: u16({ min: 1, max: MAX_CAPACITY }),
  head: u16({ max: MAX_CAPACITY - 1 }),
  tail: u16({ max: MAX_CAPACITY - 1 }),
  mode: u8({ enum: RING_MODES }),
  _reserved: reserved(1),
  seal: u32(),
  page: u64(),
  nr_flags: u32({ max: MAX_CAPACITY }),
  _reserved2: reserved(4),
  flags: arrayPointer(u8({ mask: SLOT_OVERFLOWED }), { count: "nr_flags" }),
});
export type CounterRingV2Value = Infer<typeof CounterRingV2>;
// #endregion v2

// #region seal
/** FNV-1a (32 bit) over every field of a v2 state except the seal itself. */
export function sealOf(state: Omit<CounterRingV2Value, "seal">): number {
  let hash = 0x811c9dc5;
  const mix = (byte: number): void => {
    hash = Math.imul(hash ^ (byte & 0xff), 0x01000193) >>> 0;
  };
  const word = (value: number, bytes: number): void => {
    for (let i = 0; i < bytes; i++) mix(value >>> (8 * i));
  };
  word(state.id, 4);
  word(state.capacity, 2);
  word(state.head, 2);
  word(state.tail, 2);
  word(state.mode, 1);
  word(Number(state.page & 0xffff_ffffn), 4);
  word(Number(state.page >> 32n), 4);
  word(state.flags.length, 4);
  for (const flag of state.flags) mix(flag);
  return hash;
}
// #endregion seal

// #region migrators
/**
 * The counter ring's schema: v1 → v2 is injective. Up fills the new fields (wrap mode, no
 * overflow, a fresh seal); down refuses what v1 cannot express — a saturating ring, an overflow
 * flag — and a state whose seal does not match.
 */
export const CounterRingSchema = versionedSchema("counter-ring", CounterRingV1).next(CounterRingV2, {
  kind: "injective",
  up: (v1) => {
    const v2 = { ...v1, mode: RING_MODES.wrap, flags: new Array<number>(v1.capacity).fill(0) };
    return { ...v2, seal: sealOf(v2) };
  },
  down: ({ mode, seal, flags, ...v1 }, ctx) => {
    if (mode !== RING_MODES.wrap) return ctx.refuse("mode", "v1 has no saturating mode");
    if (flags.some((flag) => flag !== 0)) return ctx.refuse("flags", "v1 cannot record overflows");
    if (flags.length !== v1.capacity) return ctx.refuse("flags", "one flag per slot");
    if (seal !== sealOf({ ...v1, mode, flags }))
      return ctx.refuse("seal", "the state does not match its seal");
    return v1;
  },
});
// #endregion migrators

// #region table-schema
/** The FLB shared by every ring of the driver: the id allocator. */
export const CounterRingTableV1 = struct("counter_ring_table_v1", {
  next_id: u32({ min: 1 }),
  rings: u32(),
});
export type CounterRingTableV1Value = Infer<typeof CounterRingTableV1>;
export const CounterRingTableSchema = versionedSchema("counter-ring-table", CounterRingTableV1);
// #endregion table-schema
