/**
 * The supplier's workbench on the running demo (`npm start` as a user runs it: temporary
 * directory, free ports, fast pace; one start for this file), in Chromium. The foundry signs in
 * with its demo key; in Chinese, a mistyped GTIN is named in Chinese and nothing can be sent; it
 * registers four serials from the form, downloads their labels as PDF, and a QR code read from
 * the PDF resolves at its gateway to the item; it ships three to the OEM with their dispatch
 * document; the OEM signs in at its own gateway, opens the dispatch document and receives them.
 * Screenshots go to reports/screenshots/demo-workbench-*.png; the run ends with one Ctrl-C.
 */
import { readFileSync } from "node:fs";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ItemAnswer } from "../../lib/api/trace.ts";
import { gln, gtin, sgtin } from "../../lib/epcis/builders.ts";
import { canonicalIdentifier } from "../../lib/identifiers/canonical.ts";
import { demoWallet } from "../../scripts/demo/accounts.ts";
import { type DemoOrg, demoOrg } from "../../scripts/demo/consortium.ts";
import { SKIP_MESSAGE, type WatchedPage, hasChromium, launchBrowser, openPage, screenshot } from "../explorer/browser.ts";
import { decodeSquare, expectedQr, readPdf } from "../helpers/label-pdf.ts";
import { type Demo, type DemoSite, demoSite, expectCleanStop, ready, saveOutput, startDemo, stopDemo } from "./harness.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const FOUNDRY_GLN = gln(demoOrg("foundry").site);
const OEM_GLN = gln(demoOrg("oem").site);
/** A GTIN of the foundry's own prefix that the demo's scenario does not use. */
const GTIN = gtin(demoOrg("foundry").site, "00777");
const SERIALS = ["WB-001", "WB-002", "WB-003", "WB-004"];
const ITEMS = SERIALS.map((s) => sgtin(GTIN, s));
const SHIPPED = ITEMS.slice(0, 3);

describe.skipIf(!hasChromium)("the supplier's workbench on the running demo", { timeout: 20 * 60_000 }, () => {
  let site: DemoSite;
  let demo: Demo | undefined;
  let browser: Browser | undefined;
  const explorer = (key: DemoOrg["key"]) => `${site.gatewayOf(key)}/explorer/`;
  let foundry: ReturnType<DemoSite["clientOf"]>;
  const item = (id: string) => foundry.json<ItemAnswer>("GET", `/items/${encodeURIComponent(id)}`);
  const captured = (w: WatchedPage) => expect.poll(() => w.page.getByTestId("capture-status").getAttribute("data-ok"), { timeout: 120_000 }).toBe("true");

  beforeAll(async () => {
    site = await demoSite();
    demo = startDemo(site);
    await ready(demo);
    foundry = site.clientOf("foundry");
    browser = await launchBrowser();
  }, 15 * 60_000);

  afterAll(async () => {
    await browser?.close();
    if (demo) {
      await stopDemo(demo).finally(() => saveOutput(demo!, "workbench"));
      expectCleanStop(demo);
    }
    site?.remove();
  }, 5 * 60_000);

  /** The organisation's workbench tab, signed in through the page with its LOCAL DEMO key. */
  async function workbench(key: DemoOrg["key"], tab: string): Promise<WatchedPage> {
    const w = await openPage(browser!, explorer(key));
    await w.page.goto(`${explorer(key)}#/signin`);
    await w.page.getByLabel("Demo private key (printed by npm start)").fill(demoWallet(demoOrg(key).accountIndex).privateKey);
    await w.page.getByRole("button", { name: "Sign in with the demo key" }).click();
    await w.page.getByTestId("signed-in").waitFor();
    await w.page.goto(`${explorer(key)}#/workbench/${tab}`);
    return w;
  }

  let dispatch = "";

  it("the foundry registers four serials from the form (a mistyped GTIN named in Chinese first), prints their labels as PDF, and a label's QR resolves to its item", async () => {
    const w = await workbench("foundry", "register");
    const fill = async (gtinText: string) => {
      await w.page.getByTestId("reg-gtin").fill(gtinText);
      await w.page.getByTestId("reg-serials").fill("WB-001..WB-004");
      await w.page.getByTestId("reg-location").fill(FOUNDRY_GLN);
      await w.page.getByTestId("reg-check").click();
    };
    // In Chinese, a wrong check digit is named in Chinese and the register button stays off.
    await w.page.locator("[data-lang=zh]").click();
    const wrong = GTIN.slice(0, 13) + String((Number(GTIN[13]) + 1) % 10);
    await fill(wrong);
    const faults = w.page.getByTestId("sheet-faults");
    await faults.waitFor();
    expect((await faults.locator("li").allTextContents())[0]).toBe(`第 2 行，GTIN：GTIN 校验位是 ${wrong[13]}，应为 ${GTIN[13]}`);
    expect(await faults.locator("li").count()).toBe(4);
    expect(await w.page.getByTestId("register").isDisabled()).toBe(true);
    await screenshot(w.page, "demo-workbench-fault-zh");

    await w.page.locator("[data-lang=en]").click();
    await fill(GTIN);
    await expect.poll(() => w.page.getByTestId("sheet-summary").getAttribute("data-items")).toBe("4");
    await w.page.getByTestId("register").click();
    await captured(w);
    for (const id of ITEMS) await expect.poll(async () => (await item(id).catch(() => undefined))?.custodian?.name, { timeout: 60_000 }).toBe(demoOrg("foundry").name);

    // The labels as PDF: one A4 page of 3 x 8; the first QR code, read from the PDF, leads to the item.
    const [download] = await Promise.all([w.page.waitForEvent("download"), w.page.getByTestId("labels-pdf").click()]);
    expect(download.suggestedFilename()).toBe("labels-70x37.pdf");
    const pages = await readPdf(readFileSync(await download.path()));
    expect(pages).toHaveLength(1);
    await screenshot(w.page, "demo-workbench-registered");
    const links = ITEMS.map((_, i) => decodeSquare(pages[0]!.rects, expectedQr("70x37", i)));
    expect(links).toEqual(SERIALS.map((s) => `${site.gatewayOf("foundry")}/01/${GTIN}/21/${s}`));
    const resolved = await fetch(links[0]!, { redirect: "manual", headers: { accept: "text/html" } });
    expect(resolved.status).toBe(303);
    const itemPage = resolved.headers.get("location")!;
    expect(itemPage).toContain(`#/item/${encodeURIComponent(canonicalIdentifier(ITEMS[0]!))}`);
    await w.page.goto(new URL(itemPage, site.gatewayOf("foundry")).toString());
    await w.page.locator(".timeline .event").first().waitFor({ timeout: 30_000 });
    await screenshot(w.page, "demo-workbench-label-item");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("the foundry ships three to the OEM with their dispatch document", async () => {
    const w = await workbench("foundry", "stock");
    await w.page.getByTestId("stock-filter").fill("WB-00");
    // Searched at the gateway: the demo's own castings may fill more than a page.
    await w.page.getByTestId("stock-search").click();
    await expect.poll(() => w.page.getByTestId("stock-pages").getAttribute("data-matching"), { timeout: 60_000 }).toBe("4");
    for (const id of SHIPPED) await w.page.locator(`tr[data-item="${id}"] input`).check({ timeout: 120_000 });
    await w.page.getByTestId("ship-open").click();
    await w.page.getByTestId("ship-from").fill(FOUNDRY_GLN);
    await w.page.getByTestId("ship-to").fill(OEM_GLN);
    await w.page.getByTestId("ship-advice").fill("DA-DEMO-1");
    await w.page.getByTestId("ship-send").click();
    await captured(w);
    const href = await w.page.getByTestId("dispatch-download").getAttribute("href");
    dispatch = decodeURIComponent(href!.replace(/^data:text\/csv;charset=utf-8,/, ""));
    expect(dispatch.trim().split(/\r\n/)).toHaveLength(4);
    await screenshot(w.page, "demo-workbench-shipped");
    for (const id of SHIPPED) await expect.poll(async () => (await item(id)).status, { timeout: 60_000 }).toBe("inTransit");
    expect((await item(SHIPPED[0]!)).consignee?.name).toBe(demoOrg("oem").name);
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("the OEM receives them at its own gateway from the dispatch document", async () => {
    const w = await workbench("oem", "receive");
    await w.page.getByTestId("dispatch-file").setInputFiles({ name: "dispatch-DA-DEMO-1.csv", mimeType: "text/csv", buffer: Buffer.from(dispatch) });
    const form = w.page.getByTestId("receive-form");
    await form.waitFor();
    expect(await form.locator("input[type=checkbox]:checked").count()).toBe(3);
    await screenshot(w.page, "demo-workbench-receive");
    await w.page.getByTestId("receive-send").click();
    await captured(w);
    for (const id of SHIPPED) await expect.poll(async () => (await item(id)).custodian?.name, { timeout: 60_000 }).toBe(demoOrg("oem").name);
    expect((await item(ITEMS[3]!)).custodian?.name).toBe(demoOrg("foundry").name);
    await screenshot(w.page, "demo-workbench-received");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });
});
