/**
 * The `corruption` check: trials that each corrupt the handover between the reboot and the next
 * boot; the new kernel must refuse with a typed error what the testkit's oracle says it must.
 */
import { Prng } from "../../common/prng.js";
import { CORRUPTION_KINDS, planCorruption } from "../corruption.js";
import type { UpdateResult } from "../harness.js";
import { type Expectation, HandoverOracle, objectKey } from "../oracle.js";
import type { CorruptionObjectResult, CorruptionTrialResult } from "../report.js";
import {
  buildOf,
  CheckFailed,
  type CheckOutput,
  CONFORMANCE_SESSION,
  compare,
  type Env,
  errorText,
  newOutput,
  start,
  takeSnapshots,
  typedChain,
  untypedLink,
} from "../scenario.js";

function integrityFor(env: Env, version: number): boolean {
  const integrity = env.options.corruption?.integrity ?? false;
  return integrity === true || (Array.isArray(integrity) && integrity.includes(version));
}

/** Runs the `corruption` check, appending each trial to `trials`. */
export function checkCorruption(env: Env, trials: CorruptionTrialResult[]): CheckOutput {
  const out = newOutput();
  const count = env.options.corruption?.trials ?? 48;
  const only = env.options.corruption?.only;
  const name = env.meta.name;
  for (let trial = 0; trial < count; trial++) {
    if (only !== undefined && !only.includes(trial)) continue;
    const kind = CORRUPTION_KINDS[trial % CORRUPTION_KINDS.length]!;
    const rng = new Prng(env.seed * 104_729 + trial);
    const s = start(env, env.Driver, env.Driver, 100 + trial);
    const target = 1 + (trial % env.count);
    let preserved = new Map<number, number>();
    let expectations = new Map<string, Expectation>();
    let description = "";
    let written = 0;
    let bootError: unknown;
    let result: UpdateResult | undefined;
    let setupError: unknown;
    try {
      result = s.harness.update({
        brownout: () => takeSnapshots(env, s),
        frozen: (lk) => {
          preserved = new Map([...lk.kho.outgoing.preservedFolios()].map((f) => [f.phys, f.order]));
        },
        beforeBoot: (image, machine) => {
          const oracle = new HandoverOracle(
            machine.memory,
            image.bootData,
            preserved,
            buildOf(env, env.Driver),
          );
          let baseline: ReturnType<HandoverOracle["baseline"]>;
          try {
            baseline = oracle.baseline();
          } catch (error) {
            throw new CheckFailed(`the testkit cannot read the uncorrupted handover: ${errorText(error)}`);
          }
          const file = image.file(CONFORMANCE_SESSION, target)!;
          written = env.meta.schema.parseCompatible(file.compatible);
          const corruption = planCorruption(
            kind,
            {
              machine,
              image,
              file,
              version: env.meta.schema.version(written),
              otherReadable: env.meta.reads.filter((v) => v !== written),
              preserved,
            },
            rng,
          );
          description = corruption.description;
          corruption.apply(machine.memory);
          expectations = oracle.predict(baseline);
          // The handover reads the same; the page the object adopts in place does not.
          const hit = corruption.inPlace;
          const key = hit === undefined ? undefined : objectKey(hit.session, hit.token);
          if (key !== undefined && expectations.get(key)?.kind === "intact") {
            expectations.set(key, {
              kind: "value",
              why: "a page it preserved in place changed (the restore may take it or refuse it, never crash)",
              sealed: false,
            });
            // Refusing that page fails the boot under the abort policy, and every other object with it.
            if (env.meta.restorePolicy === "abort") {
              for (const [other, fate] of expectations) {
                if (other !== key && fate.kind === "intact") {
                  expectations.set(other, {
                    kind: "intact-or-reject",
                    why: `the boot may fail (abort policy): a page token ${hit!.token} preserved in place changed`,
                  });
                }
              }
            }
          }
        },
      });
    } catch (error) {
      if (error instanceof CheckFailed) setupError = error;
      else if (description === "") setupError = error;
      else bootError = error;
    }
    if (setupError !== undefined) {
      out.failures.push({ message: `trial ${trial}: ${errorText(setupError)}`, error: setupError });
      continue;
    }
    const objects: CorruptionObjectResult[] = [];
    let session: ReturnType<UpdateResult["session"]> | undefined;
    let sessionError: unknown;
    if (result !== undefined) {
      try {
        session = result.session(CONFORMANCE_SESSION);
      } catch (error) {
        sessionError = error;
      }
      for (const reset of result.kernel.luo.resets) {
        if (!/^[A-Z][A-Z0-9_]*$/.test(reset.code)) {
          bootError ??= new Error(
            `reset of ${reset.driver} token ${reset.token} after an untyped failure ${reset.code}: ${reset.reason}`,
          );
        }
      }
    }
    for (let i = 0; i < env.count; i++) {
      const token = BigInt(i + 1);
      const expectation = expectations.get(objectKey(CONFORMANCE_SESSION, token)) ?? {
        kind: "reject",
        why: "unknown",
      };
      let actual: CorruptionObjectResult["actual"];
      let detail: string;
      const failure = bootError ?? sessionError;
      if (failure !== undefined) {
        actual = typedChain(failure) ? "rejected" : "crash";
        detail = actual === "crash" ? `untyped failure: ${untypedLink(failure)}` : errorText(failure);
      } else {
        let restored: unknown;
        try {
          restored = session!.retrieve(token);
          const mismatch = compare(env, s, i, restored, {
            check: "corruption",
            kernel: result!.kernel,
            reader: env.Driver,
            writtenVersion: written,
          });
          actual = mismatch === undefined ? "intact" : "changed";
          detail = mismatch ?? "restored intact";
        } catch (error) {
          actual = typedChain(error) ? "rejected" : "crash";
          detail = actual === "crash" ? `untyped failure: ${untypedLink(error)}` : errorText(error);
        }
      }
      const sealed = expectation.kind === "value" && expectation.sealed && integrityFor(env, written);
      const ok =
        actual !== "crash" &&
        (expectation.kind === "reject"
          ? actual === "rejected"
          : expectation.kind === "intact"
            ? actual === "intact"
            : expectation.kind === "intact-or-reject"
              ? actual !== "changed"
              : !(sealed && actual === "changed"));
      objects.push({
        token,
        expected: expectation.kind,
        actual,
        ok,
        detail: `${expectation.why} → ${detail}`,
      });
      if (!ok) {
        const why =
          actual === "crash"
            ? "the restore failed with an untyped exception"
            : expectation.kind === "reject"
              ? "the corruption was not detected"
              : expectation.kind === "value"
                ? "a corrupted state was restored silently although the driver declares integrity"
                : actual === "rejected"
                  ? "an object whose handover data is intact was rejected"
                  : "an object whose handover data is intact was restored differently";
        out.failures.push({
          message: `trial ${trial} (${kind}: ${description}): token ${token}: ${why} — expected ${expectation.kind} (${expectation.why}), got ${actual}: ${detail}`,
        });
      }
    }
    trials.push({ trial, kind, description, objects, ok: objects.every((o) => o.ok) });
  }
  const counts = new Map<string, number>();
  for (const t of trials) for (const o of t.objects) counts.set(o.actual, (counts.get(o.actual) ?? 0) + 1);
  const byKind = CORRUPTION_KINDS.map((k) => `${k} ${trials.filter((t) => t.kind === k).length}`).join(", ");
  out.details.push(`trials by kind: ${byKind}`);
  out.details.push(
    `object outcomes: ${[...counts].map(([k, v]) => `${k} ${v}`).join(", ")} (driver ${name}, integrity ${JSON.stringify(env.options.corruption?.integrity ?? false)})`,
  );
  for (const t of trials) {
    out.details.push(
      `trial ${t.trial} ${t.kind}: ${t.description}: ${t.objects.map((o) => `#${o.token} ${o.expected}→${o.actual}`).join(", ")}`,
    );
  }
  out.summary = `${trials.length} corrupted handover(s): typed errors only, no silent wrong restore`;
  return out;
}
