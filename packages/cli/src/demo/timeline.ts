import type { HookEvent, NegotiationResult, Timeline } from "@liveupdate/core";
import type { DemoDriverReport, DemoNegotiated, DemoSpan, DemoTimeline, DemoUpdateReport } from "./report.js";

/** Versions per driver as the demo reports them: written by the old kernel, restored as by the new. */
export function negotiatedOf(negotiation: NegotiationResult): DemoNegotiated[] {
  return negotiation.drivers.map((d) => ({ name: d.driver, written: d.version, read: d.targetNative }));
}

/**
 * One update of the machine's timeline as the demo reports it: brownout and blackout, bytes, and
 * per driver the hook time spent in each (a hook that starts before the freeze is brownout, from
 * the freeze to the VMs' resume mark blackout; `finish` and later retrieves are after both), and
 * the devices' emulation time inside the blackout (from the machine's scheduler).
 */
export function updateReportOf(
  timeline: Timeline,
  update: number,
  from: string,
  to: string,
  negotiation: NegotiationResult,
  deviceEmulationNs: number,
): DemoUpdateReport {
  const s = timeline.summary(update);
  const origin = s.prepareStart ?? 0;
  const freeze = s.freezeStart ?? Number.POSITIVE_INFINITY;
  const end = s.resumedAt ?? s.restoreEnd ?? freeze;
  const spans: DemoSpan[] = [];
  const split = new Map<string, { brownoutNs: number; blackoutNs: number }>();
  for (const e of timeline.eventsOf(update)) {
    if (e.kind !== "hook") continue;
    const hook = e as HookEvent;
    if (hook.start > end) continue;
    const phase = hook.start < freeze ? "brownout" : "blackout";
    spans.push({
      driver: hook.driver,
      group: hook.session ?? "flb",
      hook: hook.hook,
      phase,
      startNs: hook.start - origin,
      durationNs: hook.durationNs,
    });
    const t = split.get(hook.driver) ?? { brownoutNs: 0, blackoutNs: 0 };
    if (phase === "brownout") t.brownoutNs += hook.durationNs;
    else t.blackoutNs += hook.durationNs;
    split.set(hook.driver, t);
  }
  const drivers: DemoDriverReport[] = s.perDriver.map((d) => ({
    name: d.driver,
    brownoutNs: split.get(d.driver)?.brownoutNs ?? 0,
    blackoutNs: split.get(d.driver)?.blackoutNs ?? 0,
    objects: d.objects,
    bytes: d.dataBytes,
  }));
  const phases: DemoTimeline["phases"][number][] = [];
  if (s.prepareStart !== undefined && s.freezeStart !== undefined) {
    phases.push({ name: "brownout", startNs: 0, endNs: s.freezeStart - origin });
    phases.push({ name: "blackout", startNs: s.freezeStart - origin, endNs: end - origin });
  }
  return {
    from,
    to,
    brownoutNs: s.brownoutNs ?? 0,
    blackoutNs: s.blackoutNs ?? 0,
    deviceEmulationNs,
    handoverBytes: s.handoverBytes,
    negotiated: negotiatedOf(negotiation),
    drivers,
    timeline: { phases, spans },
  };
}
