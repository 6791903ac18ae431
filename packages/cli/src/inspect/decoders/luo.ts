import {
  formatBytes,
  hex,
  LUO_SCHEMA,
  orderBytes,
  type PhysicalMemory,
  parseCompatibleString,
  showValue,
} from "@liveupdate/core";
import { type HandoverRecordImage, readLuoHandover } from "@liveupdate/core/testkit";
import { problemOf } from "../problems.js";
import type { FolioClaim, Inspection, InspectProblem, SubtreeContext, SubtreeDecoder } from "../registry.js";
import { ImageStateMemory } from "../state-memory.js";

/** One preserved object or FLB as `--json` shows it. */
interface RecordJson {
  readonly compatible: string;
  readonly record: string;
  readonly data: string;
  readonly folios: readonly { phys: string; order: number; data: boolean }[];
  readonly resetAllowed: boolean;
  readonly state?: unknown;
  readonly decoded?: unknown;
}

function folioText(f: { phys: number; order: number; data: boolean }): string {
  return `${hex(f.phys)}/${f.order}${f.data ? " (state)" : ""}`;
}

/** Decodes one record's state with the shipped schema of its compatible string, then its object decoder. */
function decodeRecord(
  ctx: SubtreeContext,
  memory: PhysicalMemory,
  record: HandoverRecordImage,
  owner: string,
  problems: InspectProblem[],
  claims: FolioClaim[],
): { json: RecordJson; lines: string[] } {
  const lines = [`folios ${record.folios.map(folioText).join(" ") || "none"}`];
  for (const f of record.folios) claims.push({ phys: f.phys, size: orderBytes(f.order), owner });
  const base: RecordJson = {
    compatible: record.compatible,
    record: hex(record.record),
    data: hex(record.data),
    folios: record.folios.map((f) => ({ phys: hex(f.phys), order: f.order, data: f.data })),
    resetAllowed: record.resetAllowed,
  };
  const parsed = parseCompatibleString(record.compatible);
  const schema = parsed === undefined ? undefined : ctx.schemas.find(parsed.driver, parsed.version);
  if (parsed === undefined || schema === undefined) {
    lines.push(`state at ${hex(record.data)}: no shipped build has a schema for ${record.compatible}`);
    return { json: base, lines };
  }
  let state: unknown;
  try {
    const ranges = record.folios
      .filter((f) => f.data)
      .map((f) => ({ base: f.phys, size: orderBytes(f.order) }));
    state = schema.version(parsed.version).codec.load(new ImageStateMemory(memory, ranges), record.data);
  } catch (error) {
    const problem = problemOf(`${owner}: state at ${hex(record.data)}`, error);
    problems.push(problem);
    lines.push(`state at ${hex(record.data)}: UNDECODABLE ${problem.code}: ${problem.message}`);
    return { json: base, lines };
  }
  lines.push(`state ${showValue(state, 400)}`);
  const decoder = ctx.objects.find((d) => d.driver === parsed.driver);
  if (decoder === undefined) return { json: { ...base, state }, lines };
  try {
    const detail = decoder.describe({
      memory,
      driver: parsed.driver,
      version: parsed.version,
      state,
      record,
    });
    claims.push(...detail.claims);
    lines.push(...detail.lines);
    return { json: { ...base, state, decoded: detail.json }, lines };
  } catch (error) {
    const problem = problemOf(`${owner}: ${parsed.driver} decoder`, error);
    problems.push(problem);
    lines.push(`decoder ${parsed.driver}: ${problem.code}: ${problem.message}`);
    return { json: { ...base, state }, lines };
  }
}

/**
 * The orchestrator's `luo` subtree: sessions with their objects (token, compatible string, folios,
 * state decoded through the shipped schemas, then the driver's object decoder) and FLBs.
 */
export const LUO_DECODER: SubtreeDecoder = {
  compatible: LUO_SCHEMA.compatible(LUO_SCHEMA.latest),
  inspect(ctx: SubtreeContext): Inspection {
    const memory = ctx.memory;
    const image = readLuoHandover({ memory }, ctx.bootData);
    const problems: InspectProblem[] = [];
    const claims: FolioClaim[] = image.subtree.folios.map((f) => ({
      phys: f.phys,
      size: orderBytes(f.order),
      owner: "luo handover (sessions, records)",
    }));
    const arenaBytes = image.subtree.folios.reduce((sum, f) => sum + orderBytes(f.order), 0);
    const objects = image.sessions.reduce((n, s) => n + s.files.length, 0);
    const lines = [
      `${image.sessions.length} session(s), ${objects} object(s), ${image.flbs.length} FLB(s); header at ${hex(image.header)}, ` +
        `handover in ${image.subtree.folios.length} folio(s) (${formatBytes(arenaBytes)})`,
    ];
    const sessions = image.sessions.map((session) => {
      lines.push(
        `session "${session.name}" (record ${hex(session.record)}, ${session.files.length} object(s))`,
      );
      const files = session.files.map((file) => {
        const owner = `luo session "${session.name}" token ${hex(file.token)} (${file.compatible})`;
        const { json, lines: detail } = decodeRecord(ctx, memory, file, owner, problems, claims);
        lines.push(`  token ${hex(file.token)}  ${file.compatible}  record ${hex(file.record)}`);
        lines.push(...detail.map((l) => `    ${l}`));
        return { token: file.token, ...json };
      });
      return { name: session.name, record: hex(session.record), files };
    });
    const flbs = image.flbs.map((flb) => {
      const owner = `luo FLB ${flb.compatible}`;
      const { json, lines: detail } = decodeRecord(ctx, memory, flb, owner, problems, claims);
      lines.push(`FLB ${flb.compatible}  record ${hex(flb.record)}`);
      lines.push(...detail.map((l) => `    ${l}`));
      return json;
    });
    return { json: { header: hex(image.header), sessions, flbs }, lines, claims, problems };
  },
};
