import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const docs = fileURLToPath(new URL("../../../../docs/", import.meta.url));
const pages = ["concepts", "guides"].flatMap((dir) =>
  readdirSync(`${docs}${dir}`)
    .filter((name) => name.endsWith(".md"))
    .map((name) => `${dir}/${name}`),
);

describe("the project documents typedoc publishes (docs/concepts, docs/guides)", () => {
  it.each(pages)("%s opens with its title heading, without front matter", (page) => {
    // Biome's markdown formatter turns a front matter block into a rule and a `## title:` heading
    // (the `---` under `title:` reads as a setext underline): the pages carry none, typedoc names
    // them by file, and the first line is the page's `# ` heading.
    const first = readFileSync(`${docs}${page}`, "utf8").split("\n")[0]!;
    expect(first).toMatch(/^# \S/);
  });
});

describe("the plugin guide's package setup (section 0)", () => {
  const root = fileURLToPath(new URL("../../../../", import.meta.url));
  const json = (path: string) =>
    JSON.parse(readFileSync(`${root}${path}`, "utf8")) as Record<string, unknown>;
  const guide = readFileSync(`${docs}guides/plugin-authoring.md`, "utf8");
  const section0 = guide.slice(guide.indexOf("## 0."), guide.indexOf("## 1."));

  it("names the three places that tie a package in, and they hold for the example", () => {
    expect(section0).toMatch(/root workspaces[\s\S]*"workspaces"/);
    expect(section0).toMatch(/root TypeScript references[\s\S]*"references"/);
    expect(section0).toContain('"@liveupdate/source": "./src/index.ts"');
    expect(json("package.json").workspaces).toContain("examples/counter-ring");
    expect(json("tsconfig.json").references).toContainEqual({ path: "examples/counter-ring" });
    const exports = json("examples/counter-ring/package.json").exports as Record<
      string,
      Record<string, string>
    >;
    expect(exports["."]!["@liveupdate/source"]).toBe("./src/index.ts");
    expect(readFileSync(`${root}vitest.shared.ts`, "utf8")).toContain('conditions: ["@liveupdate/source"]');
  });
});
