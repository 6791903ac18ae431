import type { PhaseGuardDeclaration } from "./handlers/metadata.js";
import type { InFlb, InRecord, OutParticipant, UnitRuntime } from "./orchestrator-model.js";
import type { OutgoingUpdate } from "./outgoing.js";
import type { HandlerUnit } from "./registry.js";
import type { IncomingUpdate } from "./restore.js";

/** What a `@PhaseGuard` call changes: outgoing participants and restored incoming records. */
export interface GuardTargets {
  /** Participants of the outgoing update (active or not) the call changes. */
  readonly outgoing: OutParticipant[];
  /** Restored objects or FLBs of the incoming update the call changes. */
  readonly incoming: (InRecord | InFlb)[];
}

/** The orchestrator state a guard consults. */
export interface GuardView {
  readonly outgoing: OutgoingUpdate;
  readonly incoming: IncomingUpdate;
  readonly runtimes: ReadonlyMap<HandlerUnit, UnitRuntime>;
}

function addFlb(view: GuardView, unit: HandlerUnit, into: GuardTargets): void {
  const out = view.outgoing.flbParticipants.get(unit);
  if (out !== undefined) into.outgoing.push(out);
  const inc = view.incoming.inFlbs.get(unit);
  if (inc !== undefined && inc.status === "restored") into.incoming.push(inc);
}

/** The FLB of `rt`'s driver whose instance (raw or as injected) `value` is, if any. */
function flbOf(view: GuardView, rt: UnitRuntime, value: unknown): HandlerUnit | undefined {
  for (const unit of rt.unit.flbs) {
    const flb = view.runtimes.get(unit);
    if (flb !== undefined && (flb.raw === value || flb.proxy === value)) return unit;
  }
  return undefined;
}

/**
 * Resolves what a guarded call of `rt` changes. An FLB's operation changes the FLB itself. A
 * driver's operation changes the object its `target` picks (default: the first argument) when that
 * object is one of the driver's preserved objects; one of the driver's FLB instances when it picks
 * one (only that FLB); and when it picks `undefined`, the driver-wide state: every preserved object
 * of the driver and the driver's FLBs. Anything else is not preserved and not restricted.
 *
 * @param view - the orchestrator's outgoing and incoming state.
 * @param rt - the driver or FLB the method runs on.
 * @param guard - the operation's declaration.
 * @param args - the call's arguments.
 */
export function guardTargets(
  view: GuardView,
  rt: UnitRuntime,
  guard: PhaseGuardDeclaration,
  args: readonly unknown[],
): GuardTargets {
  const into: GuardTargets = { outgoing: [], incoming: [] };
  if (rt.unit.kind === "flb") {
    addFlb(view, rt.unit, into);
    return into;
  }
  const target = guard.target(args);
  if (target === undefined) {
    for (const p of view.outgoing.outgoingRecords()) if (p.rt === rt) into.outgoing.push(p);
    for (const r of view.incoming.inIndex.values())
      if (r.rt === rt && r.status === "restored") into.incoming.push(r);
    for (const unit of rt.unit.flbs) addFlb(view, unit, into);
    return into;
  }
  const out = view.outgoing.outIndex.get(target);
  if (out !== undefined && out.rt === rt) into.outgoing.push(out);
  const inc = view.incoming.inIndex.get(target);
  if (inc !== undefined && inc.rt === rt && inc.status === "restored") into.incoming.push(inc);
  if (out === undefined && inc === undefined) {
    const flb = flbOf(view, rt, target);
    if (flb !== undefined) addFlb(view, flb, into);
  }
  return into;
}
