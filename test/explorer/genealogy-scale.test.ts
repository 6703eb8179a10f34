/**
 * A genealogy of 1,011 parts in the explorer (real Chromium, real gateway, real chain and index):
 * pump PUMP-1 is assembled from 10 modules, each from 100 parts. The graph opens with the deep
 * tier collapsed into one node with its count, labels at 12 px or more as drawn; the tier expands
 * from the list beside the graph (all 1,011 parts drawn), its parts listed a page of 50 at a time,
 * and collapses again. Screenshots in reports/screenshots/genealogy-scale-*.png.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Indexer } from "../../node/indexer/index.ts";
import { indexService } from "../../node/indexer/service.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";
import { DISP_ACTIVE, type StoryChain, dl, done, eventHash, key, lotKey, storyOn } from "../helpers/story.ts";
import { EXPLORER_DIST, SKIP_MESSAGE, hasChromium, launchBrowser, openPage, screenshot } from "./browser.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const MODULES = 10;
const PARTS_PER_MODULE = 100;

describe.skipIf(!hasChromium)("a genealogy of 1,000+ parts in Chromium: tiers that collapse and expand, legible labels, a paged list", () => {
  let tc: TestChain;
  let story: StoryChain;
  let dir: string;
  let indexer: Indexer;
  let gw: TestGateway;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(EXPLORER_DIST)) throw new Error(`${EXPLORER_DIST} is missing: run npm run explorer:build (npm test builds it)`);
    tc = await startTestChain();
    story = storyOn(tc);
    dir = mkdtempSync(path.join(tmpdir(), "tm-explorer-genealogy-scale-"));
    indexer = await Indexer.open({ provider: story.provider, deployment: tc.deployment, store: path.join(dir, "index") });
    const { oem } = story.as;
    const modules = Array.from({ length: MODULES }, (_, m) => key(`MODULE-${m}`));
    await done(oem.provenance.commission(key("PUMP-1"), DISP_ACTIVE, eventHash("pump")));
    await done(oem.provenance.commissionBatch(lotKey("MODULES"), modules, DISP_ACTIVE, eventHash("modules")));
    for (const [m, module] of modules.entries()) {
      const parts = Array.from({ length: PARTS_PER_MODULE }, (_, p) => key(`PART-${m}-${p}`));
      await done(oem.provenance.commissionBatch(lotKey(`PARTS-${m}`), parts, DISP_ACTIVE, eventHash(`parts-${m}`)));
      await done(oem.provenance.assemble(module, parts, eventHash(`assemble-${m}`)));
    }
    await done(oem.provenance.assemble(key("PUMP-1"), modules, eventHash("assemble-pump")));
    await indexer.sync();
    gw = await startTestGateway({ chain: tc, node: "oem", services: { index: indexService(indexer) }, gateway: { explorerDir: EXPLORER_DIST, rateLimit: false } });
    browser = await launchBrowser();
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await indexer?.stop();
    await story?.stop();
    await tc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("opens with the deep tier collapsed to one counted node, labels legible; expands and pages from the list; collapses again", async () => {
    const w = await openPage(browser, gw.url);
    await w.page.goto(`${gw.url}/explorer/#/signin`);
    await w.page.locator("#demo-key").fill(tc.orgs.oem.signer.privateKey);
    await w.page.locator("#demo-key ~ button[type=submit], form:has(#demo-key) button[type=submit]").first().click();
    await w.page.getByTestId("signed-in").waitFor();
    await w.page.goto(`${gw.url}/explorer/#/item/${encodeURIComponent(dl("PUMP-1"))}`);

    const graph = w.page.getByTestId("genealogy-graph");
    const tier = (id: string) => w.page.locator(`[data-testid="genealogy-tier"][data-tier="${id}"]`);
    await tier("in2").waitFor({ timeout: 60_000 });
    // cytoscape loads after the list: wait for it to draw.
    await expect.poll(() => graph.locator("canvas").count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await expect.poll(() => graph.getAttribute("data-drawn"), { timeout: 30_000 }).toBe(String(1 + MODULES + 1));
    // The labels as drawn at the default zoom (font size times zoom): 12 px or more.
    expect(Number(await graph.getAttribute("data-label-px"))).toBeGreaterThanOrEqual(12);
    const modulesTier = tier("in1").locator(".tier-title button");
    const partsTier = tier("in2").locator(".tier-title button");
    expect(await modulesTier.getAttribute("aria-expanded")).toBe("true");
    expect(await modulesTier.textContent()).toContain(`${MODULES} parts`);
    expect(await partsTier.getAttribute("aria-expanded")).toBe("false");
    expect(await partsTier.textContent()).toContain(`${MODULES * PARTS_PER_MODULE} parts`);
    expect(await tier("in2").locator("li").count()).toBe(0);
    await graph.scrollIntoViewIfNeeded();
    await screenshot(w.page, "genealogy-scale-collapsed");

    // Expanded from the list: every part drawn, the list a page at a time.
    await partsTier.click();
    expect(await partsTier.getAttribute("aria-expanded")).toBe("true");
    await expect.poll(() => graph.getAttribute("data-drawn"), { timeout: 60_000 }).toBe(String(1 + MODULES + MODULES * PARTS_PER_MODULE));
    expect(Number(await graph.getAttribute("data-label-px"))).toBeGreaterThanOrEqual(12);
    expect(await tier("in2").locator("li").count()).toBe(50);
    expect(await tier("in2").locator(".pager").textContent()).toContain("parts 1–50 of 1000");
    await tier("in2").getByRole("button", { name: "Next" }).click();
    expect(await tier("in2").locator(".pager").textContent()).toContain("parts 51–100 of 1000");
    expect(await tier("in2").locator("li").count()).toBe(50);
    await screenshot(w.page, "genealogy-scale-expanded");

    await partsTier.click();
    await expect.poll(() => graph.getAttribute("data-drawn"), { timeout: 30_000 }).toBe(String(1 + MODULES + 1));
    expect(await tier("in2").locator("li").count()).toBe(0);
    expect(w.errors).toEqual([]);
    expect(w.foreign).toEqual([]);
    await w.page.context().close();
  }, 300_000);
});
