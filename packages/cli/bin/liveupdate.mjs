#!/usr/bin/env node
// The `liveupdate` command as npm links it (`npx liveupdate` at the repository root). A plain
// launcher kept in git, so the link exists right after `npm ci` (whose `prepare` step builds dist/);
// the command itself is the compiled dist/main.js.
try {
  await import("../dist/main.js");
} catch (error) {
  if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes("dist/main.js")) throw error;
  process.stderr.write('liveupdate: the CLI is not built yet; run "npm run build" at the repository root\n');
  process.exitCode = 1;
}
