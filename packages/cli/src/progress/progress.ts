import { Presets, SingleBar } from "cli-progress";
import type { CommandIo } from "../io.js";

/**
 * One step of a long run, as library functions report it: `done` of `total` steps finished, the
 * one now running is `step`. Runs that report progress take an `onProgress(event)` callback, so
 * they stay independent of how (or whether) it is shown.
 */
export interface ProgressEvent {
  /** Steps finished. */
  readonly done: number;
  /** Steps in the whole run. */
  readonly total: number;
  /** What runs now (`kexec 2/3: restore + verify`). */
  readonly step: string;
}

/** Where a command sends a run's progress events; {@link ProgressSink.stop} clears the display. */
export interface ProgressSink {
  /** Shows one event. */
  update(event: ProgressEvent): void;
  /** Ends the display (call it also when the run fails). */
  stop(): void;
}

/** Shows nothing: output that is not a terminal, and `--json`. */
export const NO_PROGRESS: ProgressSink = Object.freeze({ update: () => {}, stop: () => {} });

/**
 * The progress display of a command: a `cli-progress` bar on `io.progressStream` (standard error)
 * when standard output is a terminal and the command prints no JSON; otherwise
 * {@link NO_PROGRESS}, so piped or captured output holds nothing but the result.
 */
export function progressFor(io: CommandIo, options: { readonly json?: boolean | undefined }): ProgressSink {
  if (io.isTTY !== true || options.json === true || io.progressStream === undefined) return NO_PROGRESS;
  const bar = new SingleBar(
    {
      stream: io.progressStream,
      format: "{bar} {value}/{total} {step}",
      hideCursor: true,
      clearOnComplete: true,
      // Long synchronous steps block the event loop: redraw on every update, not on a timer.
      synchronousUpdate: true,
      fps: 1000,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(event) {
      if (!started) {
        bar.start(event.total, event.done, { step: event.step });
        started = true;
      } else {
        bar.setTotal(event.total);
        bar.update(event.done, { step: event.step });
      }
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
