/**
 * The explorer as the gateway serves it, in real Chromium: it loads from /explorer/ with nothing
 * fetched from outside, switches language (and remembers it), signs in with a LOCAL DEMO key that
 * never leaves the page, fits a 375 px phone screen and works from the keyboard.
 */
import { existsSync } from "node:fs";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestGateway, startTestGateway } from "../helpers/gateway.ts";
import { DESKTOP, EXPLORER_DIST, PHONE, SKIP_MESSAGE, hasChromium, inPage, launchBrowser, openPage, overflowsHorizontally, screenshot } from "./browser.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

describe.skipIf(!hasChromium)("explorer shell in Chromium", () => {
  let gw: TestGateway;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(EXPLORER_DIST)) throw new Error(`${EXPLORER_DIST} is missing: run npm run explorer:build (npm test builds it)`);
    gw = await startTestGateway({ gateway: { explorerDir: EXPLORER_DIST } });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
  });

  it("loads from the gateway with no request to any other origin and no console error", async () => {
    const w = await openPage(browser, gw.url);
    await w.page.goto(`${gw.url}/explorer/`);
    await w.page.getByRole("heading", { level: 1 }).waitFor();
    expect(await w.page.getByRole("heading", { level: 1 }).textContent()).toBe("Find a part, batch or certificate");
    expect(await w.page.getByLabel("Identifier", { exact: true }).isVisible()).toBe(true);
    await screenshot(w.page, "search-desktop");
    expect(w.foreign).toEqual([]);
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("switches between English and Chinese and remembers the choice", async () => {
    const w = await openPage(browser, gw.url);
    await w.page.goto(`${gw.url}/explorer/`);
    await w.page.getByRole("button", { name: "中文" }).click();
    await expect.poll(() => w.page.getByRole("heading", { level: 1 }).textContent(), { timeout: 20_000 }).toBe("查找零件、批次或证书");
    expect(await w.page.getByRole("link", { name: "核验证书" }).isVisible()).toBe(true);
    expect(await inPage(w.page, "document.documentElement.lang")).toBe("zh-CN");
    await w.page.reload();
    await expect.poll(() => w.page.getByRole("heading", { level: 1 }).textContent(), { timeout: 20_000 }).toBe("查找零件、批次或证书");
    await screenshot(w.page, "search-zh-desktop");
    await w.page.getByRole("button", { name: "EN" }).click();
    await expect.poll(() => w.page.getByRole("heading", { level: 1 }).textContent(), { timeout: 20_000 }).toBe("Find a part, batch or certificate");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("signs in with a pasted LOCAL DEMO key without sending the key anywhere", async () => {
    const w = await openPage(browser, gw.url);
    await w.page.goto(`${gw.url}/explorer/#/signin`);
    const key = gw.chain.orgs.oem.signer.privateKey;
    await w.page.getByLabel("Demo private key (printed by npm start)").fill(key);
    await w.page.getByRole("button", { name: "Sign in with the demo key" }).click();
    await w.page.getByTestId("signed-in").waitFor();
    expect(await w.page.getByTestId("who").textContent()).toBe("Signed in as Atlas Motors");
    expect(w.bodies.length).toBeGreaterThan(0); // the signed challenge went out...
    expect(w.bodies.join("\n")).not.toContain(key.slice(2)); // ...the key did not
    expect(await w.page.getByLabel("Demo private key (printed by npm start)").inputValue()).toBe("");
    await screenshot(w.page, "signin-desktop");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("refuses a key that belongs to no member, saying why", async () => {
    const w = await openPage(browser, gw.url);
    await w.page.goto(`${gw.url}/explorer/#/signin`);
    await w.page.getByLabel("Demo private key (printed by npm start)").fill(gw.chain.outsider.privateKey);
    await w.page.getByRole("button", { name: "Sign in with the demo key" }).click();
    const alert = w.page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/^Sign-in failed: .+/);
    expect(await w.page.getByTestId("who").textContent()).toBe("Not signed in: public verification only");
    await w.page.context().close();
  });

  it("fits a 375 px phone screen", async () => {
    const w = await openPage(browser, gw.url, PHONE);
    await w.page.goto(`${gw.url}/explorer/`);
    await w.page.getByRole("heading", { level: 1 }).waitFor();
    expect(await overflowsHorizontally(w.page)).toBe(false);
    await screenshot(w.page, "search-phone");
    await w.page.goto(`${gw.url}/explorer/#/signin`);
    await w.page.getByRole("heading", { name: "Sign in for your organisation" }).waitFor();
    expect(await overflowsHorizontally(w.page)).toBe(false);
    await screenshot(w.page, "signin-phone");
    await w.page.context().close();
  });

  it("is usable from the keyboard: skip link first, then the navigation, with visible focus", async () => {
    const w = await openPage(browser, gw.url, DESKTOP);
    await w.page.goto(`${gw.url}/explorer/`);
    await w.page.getByRole("heading", { level: 1 }).waitFor();
    await w.page.keyboard.press("Tab");
    expect(await inPage(w.page, "document.activeElement?.textContent")).toBe("Skip to content");
    await w.page.keyboard.press("Tab");
    expect(await inPage(w.page, "document.activeElement?.textContent")).toBe("Tracemesh");
    await w.page.keyboard.press("Tab");
    expect(await inPage(w.page, "document.activeElement?.textContent")).toBe("Search");
    // Every form field has a label.
    const unlabelled = await inPage(w.page, `[...document.querySelectorAll("input")].filter((i) => !i.labels || i.labels.length === 0).map((i) => i.outerHTML)`);
    expect(unlabelled).toEqual([]);
    await w.page.context().close();
  });
});
