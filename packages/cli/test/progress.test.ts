import { Writable } from "node:stream";
import { buildProgram, formatSelftestReport, type ProgressEvent, runKhoSelftest } from "@liveupdate/cli";
import { describe, expect, it } from "vitest";
import { captureIo } from "./helpers.js";

const args = ["kho-selftest", "--memory", "1G", "--folios", "8", "--kexecs", "2", "--seed", "5"];

/** A stream that says it is a terminal and keeps what is drawn on it. */
function fakeTerminal() {
  const drawn: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      drawn.push(String(chunk));
      done();
    },
  });
  return {
    stream: Object.assign(stream, { isTTY: true, columns: 100, cursorTo: () => true, clearLine: () => true }),
    drawn,
  };
}

describe("progress of long runs", () => {
  it("the self-test reports every step, in order, ending with all steps done", () => {
    const events: ProgressEvent[] = [];
    runKhoSelftest({
      memory: "1G",
      seed: 1,
      folios: 4,
      maxOrder: 3,
      kexecs: 2,
      poison: true,
      onProgress: (e) => events.push(e),
    });
    expect(events.map((e) => e.done)).toEqual([...Array(12).keys()]);
    expect(new Set(events.map((e) => e.total))).toEqual(new Set([11]));
    expect(events.map((e) => e.step)).toEqual([
      "allocate and fill 4 folios",
      ...[1, 2].flatMap((k) =>
        ["preserve", "finalize", "reboot", "boot", "restore + verify"].map((s) => `kexec ${k}/2: ${s}`),
      ),
      "done",
    ]);
  });

  it("prints nothing extra when output is not a terminal, nor with --json", async () => {
    const plain = captureIo(false);
    await buildProgram(plain.io).parseAsync(args, { from: "user" });
    expect(plain.captured.err).toBe("");
    expect(plain.captured.out).toMatch(/^KHO self-test: PASS\n/);
    const report = runKhoSelftest({
      memory: "1G",
      seed: 5,
      folios: 8,
      maxOrder: 10,
      kexecs: 2,
      poison: true,
    });
    // Same lines as the report alone (timings differ, so compare the shape).
    expect(plain.captured.out.split("\n").length).toBe(formatSelftestReport(report).split("\n").length);

    const terminal = fakeTerminal();
    const json = captureIo(true);
    await buildProgram({ ...json.io, progressStream: terminal.stream }).parseAsync([...args, "--json"], {
      from: "user",
    });
    expect(terminal.drawn).toEqual([]);
    expect(JSON.parse(json.captured.out).hops).toHaveLength(2);
  });

  it("draws a bar on the terminal's progress stream, never on standard output", async () => {
    const terminal = fakeTerminal();
    const tty = captureIo(true);
    await buildProgram({ ...tty.io, progressStream: terminal.stream }).parseAsync(args, { from: "user" });
    expect(tty.captured.out).toMatch(/^KHO self-test: PASS\n/);
    const drawn = terminal.drawn.join("");
    // Redraws are throttled to a few milliseconds apart, so not every step need show; the first and last do.
    expect(drawn).toContain("0/11 allocate and fill 8 folios");
    expect(drawn).toContain("11/11 done");
  });
});
