/**
 * The HTML report in a real browser: Debian's chromium, driven by playwright-core (which uses the
 * installed browser and downloads nothing). `.ci/run` installs chromium; without it the test is
 * skipped outside CI and fails under CI.
 */
import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { describe, expect, it } from "vitest";
import { type DemoReport, renderHtmlReport, runDemo } from "../src/index.js";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const run = CHROMIUM !== undefined || process.env.CI === "true" ? describe : describe.skip;

/** The demo's report, with a hostile VM name to check escaping. */
function report(): DemoReport {
  const { report } = runDemo({ memory: "4G", vmMemory: "256M", updates: 2, seed: 4 });
  const [first, ...rest] = report.vms;
  return { ...report, vms: [{ ...first!, name: '<script>alert("x")</script>' }, ...rest] };
}

run("the HTML report (chromium)", () => {
  it("renders one bar per hook span, both phases, the tables, with no request but the file, and a screenshot", async () => {
    if (CHROMIUM === undefined) throw new Error("chromium is not installed (CI=true): .ci/run installs it");
    const r = report();
    const dir = mkdtempSync(join(tmpdir(), "lu-html-"));
    const file = join(dir, "report.html");
    writeFileSync(file, renderHtmlReport(r));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--headless=new"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
      const requests: string[] = [];
      page.on("request", (req) => requests.push(req.url()));
      const dialogs: string[] = [];
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      await page.goto(pathToFileURL(file).href);
      expect(requests).toEqual([pathToFileURL(file).href]); // self-contained
      expect(dialogs).toEqual([]); // the hostile name did not run
      expect(await page.textContent("#verdict")).toBe("PASS");
      for (const [i, u] of r.updates.entries()) {
        const svg = page.locator(`#gantt-${i}`);
        expect(await svg.locator("rect.span").count()).toBe(u.timeline.spans.length);
        for (const phase of ["brownout", "blackout"])
          expect(await svg.locator(`rect.phase[data-phase="${phase}"]`).count()).toBe(1);
        // At least one bar per (driver, phase) the update has.
        const pairs = new Set(u.timeline.spans.map((s) => `${s.driver}|${s.phase}`));
        for (const pair of pairs) {
          const [driver, phase] = pair.split("|");
          expect(
            await svg.locator(`rect.span[data-driver="${driver}"][data-phase="${phase}"]`).count(),
          ).toBeGreaterThan(0);
        }
        const box = await svg.locator("rect.span").first().boundingBox();
        expect(box!.width).toBeGreaterThan(0); // laid out, not just in the DOM
      }
      const restore = page.locator('#gantt-0 rect.span[data-hook="restore"]').first();
      expect(await restore.locator("title").textContent()).toMatch(
        /^restore · [a-z-]+ · \S+: [\d.]+ ms at \+[\d.]+ ms$/,
      );
      expect(await page.locator("#negotiation tbody tr").count()).toBe(r.negotiated.length);
      expect(await page.locator("#checks tr.pass").count()).toBe(r.checks.length);
      expect(await page.locator("#vms tbody tr").first().textContent()).toContain(
        '<script>alert("x")</script>',
      );
      const shot = join(dir, "report.png");
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
    } finally {
      await browser.close();
    }
  });

  it("shows the failure of a cancelled update", async () => {
    if (CHROMIUM === undefined) throw new Error("chromium is not installed (CI=true): .ci/run installs it");
    const { report } = runDemo({ memory: "4G", vmMemory: "256M", failAt: "prepare" });
    const file = join(mkdtempSync(join(tmpdir(), "lu-html-")), "failed.html");
    writeFileSync(file, renderHtmlReport(report));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--headless=new"],
    });
    try {
      const page = await browser.newPage();
      await page.goto(pathToFileURL(file).href);
      expect(await page.textContent("#verdict")).toBe("FAIL");
      expect(await page.textContent("#failure")).toContain("The old kernel is intact");
      expect(await page.locator("#checks tr.fail").count()).toBe(1);
      expect(await page.locator("svg.gantt").count()).toBe(0); // no update reached a new kernel
    } finally {
      await browser.close();
    }
  });
});
