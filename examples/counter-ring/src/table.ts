import {
  type FlbRestoreContext,
  type FlbSerializeContext,
  LiveUpdateFlb,
  type OnFlbRestore,
  type OnFlbSerialize,
  PhaseGuard,
} from "@liveupdate/core";
import { CounterRingTableSchema, type CounterRingTableV1Value } from "./schema.js";

// #region table
/**
 * State shared by every ring of the driver (an FLB: preserved with the first ring that is
 * preserved, restored before the first ring is restored): the id allocator.
 */
@LiveUpdateFlb({ schema: CounterRingTableSchema })
export class CounterRingTable
  implements OnFlbSerialize<CounterRingTableV1Value>, OnFlbRestore<CounterRingTableV1Value>
{
  /** Next id to hand out. */
  nextId = 1;
  /** Rings created (in this kernel and the ones before it). */
  rings = 0;

  /** Hands out a ring id. Changes shared state: allowed during brownout, re-serialized at freeze. */
  @PhaseGuard({ brownout: "dirty", description: "hand out a ring id" })
  allocate(): number {
    this.rings++;
    return this.nextId++;
  }

  /** Captures the allocator. */
  onSerialize(_ctx: FlbSerializeContext): CounterRingTableV1Value {
    return { next_id: this.nextId, rings: this.rings };
  }

  /** Restores the allocator in the new kernel. */
  onRestore(state: CounterRingTableV1Value, _ctx: FlbRestoreContext): void {
    this.nextId = state.next_id;
    this.rings = state.rings;
  }
}
// #endregion table
