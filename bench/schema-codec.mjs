#!/usr/bin/env node
// Schema codec benchmark (issue 3, §7): one representative device-state struct — 32 u32 registers
// plus 8 queue records (272 bytes) — encoded and decoded by our compiled codec, a hand-written
// DataView codec of the same layout, avsc, protobufjs and JSON, all in one run over the same values.
//
// Usage: npx tsc -b && node bench/schema-codec.mjs [--quick] [--write] [--json]
//   --quick  fewer and shorter rounds (smoke test)
//   --write  replace the "Schema codec" section of bench/RESULTS.md with this run's results
//   --json   print only the figures, as JSON on standard output
//
// Method: 256 distinct values; per operation every codec runs a warm-up and then ROUNDS rounds,
// interleaved (codec A, B, C, … in each round) so drift hits all alike; each round runs the
// operation over the value set for at least ROUND_MS; the reported figure is the median ops/s.
// Every codec's output is checked to round-trip before timing.

import { execSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import avro from "avsc";
import protobuf from "protobufjs";
import { benchOutput } from "./lib/output.mjs";

const QUICK = process.argv.includes("--quick");
const LOAD_AT_START = loadavg()[0].toFixed(2);
const WRITE = process.argv.includes("--write");
const out = benchOutput({ json: process.argv.includes("--json") });
const ROUNDS = QUICK ? 3 : 9;
const ROUND_MS = QUICK ? 60 : 250;
const WARMUP_MS = QUICK ? 100 : 500;
const N_VALUES = 256;

// ---------------------------------------------------------------------------------------------
// Our codec, from the BUILT package (run `npx tsc -b` first).

async function loadCore() {
  const candidates = [
    "@liveupdate/core",
    new URL("../packages/core/dist/schema/index.js", import.meta.url).href,
  ];
  for (const spec of candidates) {
    try {
      const mod = await import(spec);
      if (typeof mod.codecFor === "function" && typeof mod.struct === "function") return { mod, spec };
    } catch (e) {
      if (spec === candidates.at(-1))
        throw new Error(`cannot load @liveupdate/core (run \`npx tsc -b\` first): ${e.message}`);
    }
  }
  throw new Error("@liveupdate/core does not export the schema API (codecFor/struct)");
}

const { mod: core, spec: coreSpec } = await loadCore();
const { struct, array, u16, u32, u64, bool, reserved, codecFor, valuesEqual } = core;

const Queue = struct("bench_queue", {
  desc: u64(),
  head: u16(),
  tail: u16(),
  size: u16(),
  enabled: bool(),
  _r0: reserved(1),
});
const DeviceState = struct("bench_device_state", {
  regs: array(u32(), 32),
  queues: array(Queue, 8),
  features: u64(),
  status: u32(),
  irq_mask: u32(),
});
const ours = codecFor(DeviceState);
const SIZE = ours.size; // 272

// ---------------------------------------------------------------------------------------------
// Values: deterministic PRNG. u64 fields stay below 2^53 so avsc, protobufjs and JSON (which get
// them as JS numbers, their native and fastest representation) carry exactly the same values as
// our codec and the hand-written one (which use bigint, as the schema declares).

let seed = 0x1234_5678;
function rnd() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const u32r = () => Math.floor(rnd() * 2 ** 32);
const u16r = () => Math.floor(rnd() * 2 ** 16);
const physr = () => BigInt(Math.floor(rnd() * 2 ** 40)) * 4096n; // page-aligned, < 2^53

const values = Array.from({ length: N_VALUES }, () => ({
  regs: Array.from({ length: 32 }, u32r),
  queues: Array.from({ length: 8 }, () => ({
    desc: physr(),
    head: u16r(),
    tail: u16r(),
    size: 1 << Math.floor(rnd() * 16),
    enabled: rnd() < 0.5,
  })),
  features: BigInt(Math.floor(rnd() * 2 ** 52)),
  status: u32r(),
  irq_mask: u32r(),
}));
const toNumbers = (v) => ({
  regs: v.regs,
  queues: v.queues.map((q) => ({ ...q, desc: Number(q.desc) })),
  features: Number(v.features),
  status: v.status,
  irq_mask: v.irq_mask,
});
const numberValues = values.map(toNumbers);

// ---------------------------------------------------------------------------------------------
// Hand-written DataView codec of the same layout, with the same checks our decoder makes here
// (exact length, bool is 0 or 1, reserved byte is 0) and the same value checks on encode.

class BadInput extends Error {}
function handEncodeInto(v, u8, dv, o) {
  const regs = v.regs;
  if (!Array.isArray(regs) || regs.length !== 32) throw new BadInput("regs");
  for (let i = 0; i < 32; i++) {
    const r = regs[i];
    if (typeof r !== "number" || r !== r >>> 0) throw new BadInput("regs[i]");
    dv.setUint32(o + i * 4, r, true);
  }
  const qs = v.queues;
  if (!Array.isArray(qs) || qs.length !== 8) throw new BadInput("queues");
  for (let i = 0; i < 8; i++) {
    const q = qs[i];
    const b = o + 128 + i * 16;
    const desc = q.desc;
    if (typeof desc !== "bigint" || desc < 0n || desc > 0xffff_ffff_ffff_ffffn) throw new BadInput("desc");
    dv.setBigUint64(b, desc, true);
    const { head, tail, size, enabled } = q;
    if (typeof head !== "number" || head !== (head & 0xffff)) throw new BadInput("head");
    if (typeof tail !== "number" || tail !== (tail & 0xffff)) throw new BadInput("tail");
    if (typeof size !== "number" || size !== (size & 0xffff)) throw new BadInput("size");
    if (typeof enabled !== "boolean") throw new BadInput("enabled");
    dv.setUint16(b + 8, head, true);
    dv.setUint16(b + 10, tail, true);
    dv.setUint16(b + 12, size, true);
    u8[b + 14] = enabled ? 1 : 0;
    u8[b + 15] = 0;
  }
  const f = v.features;
  if (typeof f !== "bigint" || f < 0n || f > 0xffff_ffff_ffff_ffffn) throw new BadInput("features");
  dv.setBigUint64(o + 256, f, true);
  if (typeof v.status !== "number" || v.status !== v.status >>> 0) throw new BadInput("status");
  if (typeof v.irq_mask !== "number" || v.irq_mask !== v.irq_mask >>> 0) throw new BadInput("irq_mask");
  dv.setUint32(o + 264, v.status, true);
  dv.setUint32(o + 268, v.irq_mask, true);
}
function handEncode(v) {
  const u8 = new Uint8Array(SIZE);
  handEncodeInto(v, u8, new DataView(u8.buffer), 0);
  return u8;
}
function handDecode(u8) {
  if (u8.length !== SIZE) throw new BadInput("length");
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const regs = new Array(32);
  for (let i = 0; i < 32; i++) regs[i] = dv.getUint32(i * 4, true);
  const queues = new Array(8);
  for (let i = 0; i < 8; i++) {
    const b = 128 + i * 16;
    const e = u8[b + 14];
    if (e > 1) throw new BadInput("enabled");
    if (u8[b + 15] !== 0) throw new BadInput("_r0");
    queues[i] = {
      desc: dv.getBigUint64(b, true),
      head: dv.getUint16(b + 8, true),
      tail: dv.getUint16(b + 10, true),
      size: dv.getUint16(b + 12, true),
      enabled: e === 1,
    };
  }
  return {
    regs,
    queues,
    features: dv.getBigUint64(256, true),
    status: dv.getUint32(264, true),
    irq_mask: dv.getUint32(268, true),
  };
}

// ---------------------------------------------------------------------------------------------
// avsc: a record schema. u32 does not fit Avro's signed 32-bit int, so registers are longs.

const avroType = avro.Type.forSchema({
  type: "record",
  name: "DeviceState",
  fields: [
    { name: "regs", type: { type: "array", items: "long" } },
    {
      name: "queues",
      type: {
        type: "array",
        items: {
          type: "record",
          name: "Queue",
          fields: [
            { name: "desc", type: "long" },
            { name: "head", type: "int" },
            { name: "tail", type: "int" },
            { name: "size", type: "int" },
            { name: "enabled", type: "boolean" },
          ],
        },
      },
    },
    { name: "features", type: "long" },
    { name: "status", type: "long" },
    { name: "irq_mask", type: "long" },
  ],
});

// ---------------------------------------------------------------------------------------------
// protobufjs: the Type built in code (reflection API, no .proto file), proto3 packed repeated.

const pbQueue = new protobuf.Type("Queue")
  .add(new protobuf.Field("desc", 1, "fixed64"))
  .add(new protobuf.Field("head", 2, "uint32"))
  .add(new protobuf.Field("tail", 3, "uint32"))
  .add(new protobuf.Field("size", 4, "uint32"))
  .add(new protobuf.Field("enabled", 5, "bool"));
const pbDevice = new protobuf.Type("DeviceState")
  .add(new protobuf.Field("regs", 1, "uint32", "repeated"))
  .add(new protobuf.Field("queues", 2, "Queue", "repeated"))
  .add(new protobuf.Field("features", 3, "fixed64"))
  .add(new protobuf.Field("status", 4, "uint32"))
  .add(new protobuf.Field("irq_mask", 5, "uint32"));
new protobuf.Root().define("bench").add(pbQueue).add(pbDevice).resolveAll();
const pbToNumber = (x) => (typeof x === "number" ? x : x.toNumber());
const pbNormalize = (m) => ({
  regs: m.regs,
  queues: m.queues.map((q) => ({
    desc: pbToNumber(q.desc),
    head: q.head,
    tail: q.tail,
    size: q.size,
    enabled: q.enabled,
  })),
  features: pbToNumber(m.features),
  status: m.status,
  irq_mask: m.irq_mask,
});

// ---------------------------------------------------------------------------------------------
// The contenders. Each has encode (allocating its output, as callers use it) and decode.

const scratch = new Uint8Array(SIZE);
const scratchView = new DataView(scratch.buffer);
const contenders = [
  {
    name: "ours",
    input: values,
    encode: (v) => ours.encode(v),
    decode: (b) => ours.decode(b),
    same: (a, b) => valuesEqual(a, b),
  },
  {
    name: "hand-written DataView",
    input: values,
    encode: handEncode,
    decode: handDecode,
    same: (a, b) => valuesEqual(a, b),
  },
  {
    name: "ours encodeInto",
    input: values,
    encode: (v) => {
      ours.encodeInto(v, scratch, 0);
      return scratch;
    },
    decode: null,
  },
  {
    name: "hand-written encodeInto",
    input: values,
    encode: (v) => {
      handEncodeInto(v, scratch, scratchView, 0);
      return scratch;
    },
    decode: null,
  },
  {
    // What `encode` would cost with a pooled output buffer (see the report): public API only.
    name: "ours, pooled output",
    input: values,
    encode: (v) => {
      const out = Buffer.allocUnsafe(SIZE);
      ours.encodeInto(v, out, 0);
      return out;
    },
    decode: null,
  },
  {
    name: "avsc",
    input: numberValues,
    encode: (v) => avroType.toBuffer(v),
    decode: (b) => avroType.fromBuffer(b),
    same: (a, b) => JSON.stringify(a) === JSON.stringify(b),
  },
  {
    name: "protobufjs",
    input: numberValues,
    encode: (v) => pbDevice.encode(v).finish(),
    decode: (b) => pbDevice.decode(b),
    same: (a, b) => JSON.stringify(pbNormalize(a)) === JSON.stringify(b),
  },
  {
    name: "JSON",
    input: numberValues,
    encode: (v) => JSON.stringify(v),
    decode: (s) => JSON.parse(s),
    same: (a, b) => JSON.stringify(a) === JSON.stringify(b),
  },
];

// Correctness first: every codec round-trips every value; sizes.
for (const c of contenders) {
  c.encoded = c.input.map((v) => {
    const e = c.encode(v);
    return typeof e === "string" ? e : e.slice();
  });
  c.size =
    c.encoded.reduce((n, e) => n + (typeof e === "string" ? Buffer.byteLength(e) : e.length), 0) / N_VALUES;
  if (c.decode !== null) {
    c.encoded.forEach((e, i) => {
      if (!c.same(c.decode(e), c.input[i])) throw new Error(`${c.name}: value ${i} does not round-trip`);
    });
  }
}
// Ours and the hand-written codec must produce identical bytes.
contenders[0].encoded.forEach((e, i) => {
  if (Buffer.compare(Buffer.from(e), Buffer.from(contenders[1].encoded[i])) !== 0) {
    throw new Error(`ours and hand-written encodings differ for value ${i}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Timing.

// One runner per codec and operation, compiled separately so each call site stays monomorphic
// (a shared loop would see every codec and every result shape, and slow them all alike). The
// result is consumed (length of an encoding, a field of a decoded value) so no work can be dropped.
let sink = 0;
function makeRunner(op) {
  const use = op === "encode" ? "r.length" : "r.status";
  return new Function(
    "fn",
    "inputs",
    "ms",
    `const n = inputs.length;
    let ops = 0;
    let acc = 0;
    const limit = BigInt(Math.round(ms * 1e6));
    const start = process.hrtime.bigint();
    let elapsed = 0n;
    do {
      for (let i = 0; i < n; i++) {
        const r = fn(inputs[i]);
        acc += ${use};
      }
      ops += n;
      elapsed = process.hrtime.bigint() - start;
    } while (elapsed < limit);
    return [(ops * 1e9) / Number(elapsed), acc];`,
  );
}
function runFor(c, op, ms) {
  c.runners ??= {};
  c.runners[op] ??= makeRunner(op);
  const [rate, acc] = c.runners[op](c[op], op === "encode" ? c.input : c.encoded, ms);
  sink += acc;
  return rate;
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

function measure(op) {
  const active = contenders.filter((c) => c[op] !== null);
  for (const c of active) runFor(c, op, WARMUP_MS);
  const samples = new Map(active.map((c) => [c.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    progress.tick(`${op} round ${r + 1}`);
    for (const c of active) samples.get(c.name).push(runFor(c, op, ROUND_MS));
  }
  return new Map([...samples].map(([name, xs]) => [name, median(xs)]));
}

const progress = out.progress(2 * ROUNDS);
const encode = measure("encode");
const decode = measure("decode");
progress.stop();

// ---------------------------------------------------------------------------------------------
// Report.

const fmt = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(0)} k`);
const ratio = (a, b) => (a / b).toFixed(2);
const hand = { encode: encode.get("hand-written DataView"), decode: decode.get("hand-written DataView") };
const handInto = encode.get("hand-written encodeInto");

const rows = contenders.map((c) => {
  const e = encode.get(c.name);
  const d = decode.get(c.name);
  const eBase = c.name.endsWith("encodeInto") ? handInto : hand.encode;
  return [
    c.name,
    `${fmt(e)} (${ratio(e, eBase)}×)`,
    d === undefined ? "—" : `${fmt(d)} (${ratio(d, hand.decode)}×)`,
    c.name.endsWith("encodeInto") ? "—" : `${Math.round(c.size)}`,
  ];
});

const targets = [
  ["ours ≥ 0.8× hand-written, encode", encode.get("ours") / hand.encode, 0.8],
  ["ours ≥ 0.8× hand-written, encodeInto", encode.get("ours encodeInto") / handInto, 0.8],
  ["ours ≥ 0.8× hand-written, decode", decode.get("ours") / hand.decode, 0.8],
  ["ours ≥ 3× avsc, encode", encode.get("ours") / encode.get("avsc"), 3],
  ["ours ≥ 3× avsc, decode", decode.get("ours") / decode.get("avsc"), 3],
  ["ours ≥ 3× protobufjs, encode", encode.get("ours") / encode.get("protobufjs"), 3],
  ["ours ≥ 3× protobufjs, decode", decode.get("ours") / decode.get("protobufjs"), 3],
].map(([what, x, want]) => [what, `${x.toFixed(2)}×`, x >= want ? "met" : "MISSED"]);

function table(header, body) {
  const lines = [header, header.map(() => "---"), ...body];
  return lines.map((r) => `| ${r.join(" | ")} |`).join("\n");
}

const cpuModel = (() => {
  try {
    const m = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"));
    return m ? m[1].trim() : cpus()[0]?.model;
  } catch {
    return cpus()[0]?.model;
  }
})();
const nproc = (() => {
  try {
    return execSync("nproc", { encoding: "utf8" }).trim();
  } catch {
    return String(cpus().length);
  }
})();
const date = (() => {
  try {
    return execSync("date", { encoding: "utf8" }).trim();
  } catch {
    return new Date().toString();
  }
})();

const section = `## Schema codec

\`node bench/schema-codec.mjs\`${QUICK ? " --quick" : ""} — ${date}; ${nproc} CPUs, ${cpuModel}; Node ${process.version}; load average ${LOAD_AT_START} at start.

Struct: 32 × u32 registers + 8 queue records {u64 desc, u16 head, u16 tail, u16 size, bool enabled,
1 reserved byte} + u64 features + u32 status + u32 irq_mask = ${SIZE} bytes. ${N_VALUES} distinct values;
median of ${ROUNDS} interleaved rounds of ≥ ${ROUND_MS} ms after a ${WARMUP_MS} ms warm-up. "encode"
returns a fresh output per call: ours carves it from a shared 16 KiB slab (as Node's \`Buffer\` pool,
avsc and protobufjs do), the hand-written baseline allocates a new \`Uint8Array\` — so for ours vs
hand-written the like-for-like comparison is "encodeInto" (both write into a reused buffer).
"ours, pooled output" is \`Buffer.allocUnsafe(size)\` + \`encodeInto\` through the public API, for
reference (not counted in the targets).
Ratios are against the hand-written DataView codec. Our codec and the hand-written one carry u64
fields as bigint and check bool/reserved bytes on decode; avsc, protobufjs and JSON get u64 fields
as JS numbers (their native representation; all values < 2^53 so every codec carries the same values).
Our codec is imported from the built package (${coreSpec.startsWith("file:") ? "packages/core/dist/schema" : coreSpec}).

${table(["codec", "encode ops/s", "decode ops/s", "encoded bytes"], rows)}

${table(["target", "measured", ""], targets)}
`;

out.log(section);
if (Number.isNaN(sink)) out.log("unreachable"); // keeps every result observable
out.figures({
  quick: QUICK,
  rounds: ROUNDS,
  opsPerSecond: Object.fromEntries(
    contenders.map((c) => [c.name, { encode: encode.get(c.name), decode: decode.get(c.name) ?? null }]),
  ),
  targets: targets.map(([what, measured, met]) => ({ what, measured, met: met === "met" })),
});

if (WRITE) {
  const file = new URL("./RESULTS.md", import.meta.url);
  let text = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmark results\n";
  const start = text.indexOf("\n## Schema codec\n");
  if (start >= 0) {
    const next = text.indexOf("\n## ", start + 1);
    text = text.slice(0, start + 1) + section + (next >= 0 ? text.slice(next) : "");
  } else {
    text = `${text.trimEnd()}\n\n${section}`;
  }
  writeFileSync(file, text);
  out.log(`wrote ${file.pathname}`);
}
