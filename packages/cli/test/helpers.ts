import type { CommandIo } from "@liveupdate/cli";

/** A {@link CommandIo} that captures output and the exit code. */
export function captureIo(isTTY = false) {
  const captured = { out: "", err: "", code: 0 };
  const io: CommandIo = {
    out: (t) => {
      captured.out += t;
    },
    err: (t) => {
      captured.err += t;
    },
    setExitCode: (c) => {
      captured.code = c;
    },
    isTTY,
  };
  return { io, captured };
}
