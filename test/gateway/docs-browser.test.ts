/**
 * The browsable API page (/docs) in real headless Chromium under the gateway's CSP: Swagger UI
 * loads from the gateway alone, renders the document's operations, and breaks no CSP rule.
 */
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestGateway, startTestGateway } from "../helpers/gateway.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`Chromium not found at ${CHROMIUM} (set CHROMIUM_PATH): /docs browser test skipped`);

describe.skipIf(!hasChromium)("/docs in Chromium", () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it("renders every documented path from local assets, with no CSP violation or console error", async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
    try {
      const page = await browser.newPage();
      const foreign: string[] = [];
      const errors: string[] = [];
      await page.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith("data:") || new URL(url).origin === new URL(gw.url).origin) return route.continue();
        foreign.push(url);
        return route.abort();
      });
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${gw.url}/docs`);
      await page.locator(".opblock").first().waitFor({ timeout: 20_000 });
      const shown = await page.locator(".opblock-summary-path").allTextContents();
      const documented = Object.keys(gw.gateway.openapi.paths);
      expect(new Set(shown.map((p) => p.replace(/\u200b/g, "").trim()))).toEqual(new Set(documented));
      expect(await page.locator(".info .title").textContent()).toContain("Tracemesh gateway");
      expect(foreign).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
