/**
 * What every conformance check shares: the run's environment, booting a scenario (a harness with
 * objects from `createObject`, preserved), snapshots, `assertRestored`, and error rendering.
 */
import { LiveUpdateError } from "../common/errors.js";
import { Prng } from "../common/prng.js";
import { defineKernelBuild, type KernelBuild } from "../kernel/build.js";
import type { LiveUpdateKernel } from "../luo/boot.js";
import type { DriverClass, DriverMetadata } from "../luo/handlers/types.js";
import { fieldDiff } from "./diff.js";
import { LiveUpdateHarness, type UpdateResult } from "./harness.js";
import type { ConformanceOptions } from "./options.js";
import type { ConformanceCheckName, ConformanceFailure } from "./report.js";

/** Session the conformance checks preserve their objects in. */
export const CONFORMANCE_SESSION = "conformance";

/** The options with the driver's types erased (the checks do not look inside objects). */
export type AnyOptions = ConformanceOptions<unknown, unknown, unknown>;

/** One conformance run: the driver, its options and seed, and the kernel builds made so far. */
export interface Env {
  readonly Driver: DriverClass;
  readonly meta: DriverMetadata;
  readonly options: AnyOptions;
  readonly seed: number;
  readonly count: number;
  readonly builds: Map<DriverClass, KernelBuild>;
}

/** One booted machine with the run's objects created and preserved by `writer`. */
export interface Scenario {
  readonly harness: LiveUpdateHarness;
  readonly objects: readonly unknown[];
  readonly writer: unknown;
  snapshots: (unknown | undefined)[];
}

/** Thrown inside a harness hook to fail the check rather than the update. */
export class CheckFailed extends Error {}

/** `Name [CODE]: message` of any thrown value. */
export function errorText(error: unknown): string {
  if (error instanceof LiveUpdateError) return `${error.name} [${error.code}]: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** True when `error` and every `cause` behind it are `LiveUpdateError`s (typed all the way down). */
export function typedChain(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; depth < 16 && e !== undefined; depth++) {
    if (!(e instanceof LiveUpdateError)) return false;
    e = e.cause;
  }
  return true;
}

/** The first link of `error`'s cause chain that is not a `LiveUpdateError`, rendered. */
export function untypedLink(error: unknown): string {
  let e: unknown = error;
  while (e instanceof LiveUpdateError) e = e.cause;
  return errorText(e);
}

/** The kernel build of `cls` (and the run's other drivers), one per class per run. */
export function buildOf(env: Env, cls: DriverClass): KernelBuild {
  let build = env.builds.get(cls);
  if (build === undefined) {
    build = defineKernelBuild({
      version: `conformance-${env.builds.size + 1}:${cls.name}`,
      drivers: [cls, ...(env.options.withDrivers ?? [])],
    });
    env.builds.set(cls, build);
  }
  return build;
}

/** First token of the companions the suite preserves next to the objects (object i's at `+ 64 i`). */
export const COMPANION_TOKENS = 1 << 20;

/**
 * Boots a machine on the writer's build (kexecs to the reader's), creates the run's objects with
 * `createObject` and preserves them in {@link CONFORMANCE_SESSION} as tokens 1..n.
 */
export function start(
  env: Env,
  writer: DriverClass,
  reader: DriverClass,
  offset: number,
  poison = true,
  count = env.count,
): Scenario {
  const o = env.options;
  const harness = LiveUpdateHarness.boot({
    from: buildOf(env, writer),
    to: buildOf(env, reader),
    memory: o.memory ?? "512M",
    seed: env.seed * 1000 + offset,
    poison,
    ...(o.container !== undefined ? { container: o.container } : {}),
    ...(o.luo !== undefined ? { luo: o.luo } : {}),
  });
  const driver = harness.driver(writer);
  const rng = new Prng(env.seed * 7919 + offset);
  const objects: unknown[] = [];
  for (let i = 0; i < count; i++) objects.push(o.createObject(harness.kernel, rng, driver));
  objects.forEach((object, i) => {
    (o.companions?.(object, harness.kernel, driver) ?? []).forEach((companion, j) => {
      harness.preserve(COMPANION_TOKENS + i * 64 + j, companion, { session: CONFORMANCE_SESSION });
    });
    harness.preserve(i + 1, object, { session: CONFORMANCE_SESSION, driver: writer });
  });
  return { harness, objects, writer: driver, snapshots: [] };
}

/** Takes `snapshot` of every object of `s` (at the end of brownout). */
export function takeSnapshots(env: Env, s: Scenario): void {
  const snap = env.options.snapshot;
  s.snapshots = s.objects.map((object) => snap?.(object, s.harness.kernel, s.writer));
}

/** Runs `assertRestored`; returns the failure text or undefined. */
export function compare(
  env: Env,
  s: Scenario,
  index: number,
  restored: unknown,
  ctx: {
    check: ConformanceCheckName;
    kernel: LiveUpdateKernel;
    reader: DriverClass;
    writtenVersion: number | undefined;
  },
): string | undefined {
  try {
    env.options.assertRestored(s.objects[index], restored, {
      check: ctx.check,
      snapshot: s.snapshots[index],
      kernel: ctx.kernel,
      driver: ctx.kernel.driver(ctx.reader),
      writtenVersion: ctx.writtenVersion,
    });
    return undefined;
  } catch (error) {
    const first = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    const diff = fieldDiff(error);
    return diff ?? first;
  }
}

/** The version the negotiation picked for driver `name`. */
export function writtenVersionOf(result: UpdateResult, name: string): number | undefined {
  return result.prepare.negotiation.drivers.find((d) => d.driver === name)?.version;
}

/** What a check returns: its one-line summary, what it tried, and what went wrong. */
export interface CheckOutput {
  summary: string;
  details: string[];
  failures: ConformanceFailure[];
}

/** An empty {@link CheckOutput}. */
export function newOutput(): CheckOutput {
  return { summary: "", details: [], failures: [] };
}
