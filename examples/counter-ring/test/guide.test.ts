/**
 * Keeps docs/guides/plugin-authoring.md honest: every code block marked
 * `<!-- snippet: path#region -->` must equal that region of the file (between `// #region name` and
 * `// #endregion name`, dedented; the whole file without `#region`), and the phase table must be
 * what `renderPhaseTable` generates. Biome formats the guide (code blocks, table padding), so the
 * comparison ignores whitespace, table rule widths and trailing commas. Run with `UPDATE_GUIDE=1`
 * to rewrite the guide from the sources, then `npx biome check --write docs/guides`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderPhaseTable } from "@liveupdate/core";
import { describe, expect, it } from "vitest";
import { CounterRingDriver } from "../src/index.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const guidePath = `${root}docs/guides/plugin-authoring.md`;

function region(path: string, name: string | undefined): string {
  const text = readFileSync(`${root}${path}`, "utf8");
  if (name === undefined) return text.replace(/\n+$/, "");
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trim() === `// #region ${name}`);
  const end = lines.findIndex((l) => l.trim() === `// #endregion ${name}`);
  if (start < 0 || end < start) throw new Error(`${path}: no region ${name}`);
  const body = lines.slice(start + 1, end);
  const indent = Math.min(...body.filter((l) => l.trim() !== "").map((l) => l.length - l.trimStart().length));
  return body.map((l) => l.slice(indent)).join("\n");
}

/** The guide with every snippet and generated block replaced by what the sources say. */
function render(guide: string): { text: string; snippets: number } {
  const lines = guide.split("\n");
  const out: string[] = [];
  let snippets = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    out.push(line);
    const snippet = /^<!-- snippet: ([^#\s]+)(?:#(\S+))? -->$/.exec(line);
    if (snippet !== null) {
      const fence = lines[i + 1]!;
      let close = i + 2;
      while (close < lines.length && lines[close] !== "```") close++;
      out.push(fence, region(snippet[1]!, snippet[2]), "```");
      snippets++;
      i = close;
      continue;
    }
    if (line === "<!-- generated: phase-table -->") {
      let end = i + 1;
      while (end < lines.length && lines[end]!.startsWith("|")) end++;
      out.push(renderPhaseTable(CounterRingDriver, { sessionOperations: true }));
      i = end - 1;
    }
  }
  return { text: out.join("\n"), snippets };
}

/** What formatting may change: whitespace, the width of table rules, trailing commas. */
function normalize(text: string): string {
  return text
    .replace(/\s+/g, "")
    .replace(/-{3,}/g, "---")
    .replace(/,([\])}])/g, "$1");
}

describe("the plugin-authoring guide", () => {
  it("quotes the example's sources exactly", () => {
    const guide = readFileSync(guidePath, "utf8");
    const { text, snippets } = render(guide);
    if (process.env.UPDATE_GUIDE === "1") writeFileSync(guidePath, text);
    expect(snippets).toBeGreaterThan(15);
    expect(normalize(guide)).toBe(normalize(text));
  });
});
