/**
 * The workbench's lists follow its captures, and every button can be seen, in real Chromium
 * against real gateways and a real chain: the OEM receives a shipment from its dispatch document
 * and the "on its way" list empties by itself; the foundry ships an item and cancels the shipment,
 * and its items show each change without a click on "refresh". Every button and tab on the stock,
 * receive and share tabs (with a partner's access request waiting) has a box and text readable on
 * its background (WCAG AA contrast), on a desktop in English and on a 375 px phone in Chinese.
 */
import path from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commission, gtin, sgtin, ship } from "../../lib/epcis/builders.ts";
import { dispatchCsv } from "../../lib/workbench/dispatch.ts";
import { AccessRequestStore } from "../../node/passport/access-requests.ts";
import { DESKTOP, PHONE, SKIP_MESSAGE, type WatchedPage, hasChromium, inPage, openPage, overflowsHorizontally, screenshot } from "./browser.ts";
import { FOUNDRY_GLN, FOUNDRY_SITE, OEM_GLN, OEM_SITE, type WorkbenchMembers, startWorkbenchMembers } from "./workbench-members.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const GTIN = gtin(FOUNDRY_SITE, "00041");
const [SENT_1, SENT_2, KEPT] = ["P-1", "P-2", "P-3"].map((s) => sgtin(GTIN, s)) as [string, string, string];
const PUMP = sgtin(gtin(OEM_SITE, "00009"), "PUMP-9");
const DISPATCH = { despatchAdvice: "DA-POLISH", from: FOUNDRY_GLN, to: OEM_GLN, items: [SENT_1, SENT_2] };

/** A control that cannot be read: what it is and why. */
interface Unreadable {
  control: string;
  why: string;
}

/**
 * Every rendered button, button-like link and tab under `selector` whose box is empty or whose
 * text does not stand out from the background behind it: contrast below 4.5:1 (WCAG AA); disabled
 * buttons only need a colour different from their background. Hidden controls (inside a closed
 * <details>, display: none) are not shown, so not judged; `required` names controls that must be shown.
 */
async function unreadableControls(page: Page, selector: string, required: string[] = []): Promise<Unreadable[]> {
  return inPage<Unreadable[]>(
    page,
    `(() => {
      const rgba = (s) => { const m = s.match(/[\\d.]+/g) || ["0", "0", "0", "0"]; return m.map(Number).concat([1]).slice(0, 4); };
      const lum = ([r, g, b]) => { const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]; };
      const behind = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor); if (c[3] > 0) return c; } return [255, 255, 255, 1]; };
      const name = (el) => el.tagName.toLowerCase() + (el.dataset.testid ? "[data-testid=" + el.dataset.testid + "]" : "") + ' "' + (el.textContent || "").trim().slice(0, 40) + '"';
      const out = [];
      for (const want of ${JSON.stringify(required)}) if (!document.querySelector(want)) out.push({ control: want, why: "missing" });
      const controls = new Set([...document.querySelectorAll(${JSON.stringify(selector)})].filter((el) => el.matches("button, a.button-link, .tabs a")));
      for (const want of ${JSON.stringify(required)}) for (const el of document.querySelectorAll(want)) controls.add(el);
      for (const el of controls) {
        if (el.closest("details:not([open])") || getComputedStyle(el).display === "none") continue;
        const box = el.getBoundingClientRect();
        if (box.width < 1 || box.height < 1) { out.push({ control: name(el), why: "empty box " + box.width + "x" + box.height }); continue; }
        const style = getComputedStyle(el);
        if (style.visibility === "hidden" || Number(style.opacity) === 0) { out.push({ control: name(el), why: "hidden" }); continue; }
        const fg = rgba(style.color), bg = behind(el);
        const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
        const ratio = (a + 0.05) / (b + 0.05);
        if (el.disabled ? ratio < 1.5 : ratio < 4.5) out.push({ control: name(el), why: "contrast " + ratio.toFixed(2) + ": " + style.color + " on " + getComputedStyle(el).backgroundColor + " / " + bg.join(",") });
      }
      return out;
    })()`,
  );
}

describe.skipIf(!hasChromium)("the workbench's lists follow its captures; every button can be seen", () => {
  let wb: WorkbenchMembers;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "tm-wb-polish-"));
    wb = await startWorkbenchMembers("polish", { oem: { accessRequests: await AccessRequestStore.open(path.join(dir, "access-requests")) } }, { grants: ["oem"] });
    const now = () => new Date().toISOString();
    await wb.capture("foundry", [commission({ time: now(), at: FOUNDRY_GLN, items: [SENT_1, SENT_2, KEPT] }), ship({ time: now(), at: FOUNDRY_GLN, from: FOUNDRY_GLN, to: OEM_GLN, items: [SENT_1, SENT_2], despatchAdvice: DISPATCH.despatchAdvice })]);
    await wb.capture("oem", [commission({ time: now(), at: OEM_GLN, items: [PUMP] })]);
  }, 240_000);

  afterAll(async () => {
    await wb?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const captured = (w: WatchedPage) => expect.poll(() => w.page.getByTestId("capture-status").getAttribute("data-ok"), { timeout: 120_000 }).toBe("true");

  it("received from its dispatch document, the shipment leaves the 'on its way' list without a refresh", async () => {
    const w = await wb.workbench("oem", "receive", PHONE);
    const incoming = w.page.getByTestId("incoming");
    await expect.poll(() => incoming.getByTestId("incoming-shipment").count(), { timeout: 30_000 }).toBe(1);
    await w.page.getByTestId("dispatch-file").setInputFiles({ name: "dispatch-DA-POLISH.csv", mimeType: "text/csv", buffer: Buffer.from(dispatchCsv(DISPATCH)) });
    await w.page.getByTestId("receive-form").waitFor();
    await w.page.getByTestId("receive-send").click();
    await captured(w);
    // No click on "Refresh the lists": the list reloads once the chain index has the receipt.
    await expect.poll(() => incoming.textContent(), { timeout: 30_000 }).toContain("Nothing is on its way to you.");
    expect(await incoming.getByTestId("incoming-shipment").count()).toBe(0);
    expect(await w.page.getByTestId("receive-form").getByTestId("capture-status").getAttribute("data-ok")).toBe("true");
    await screenshot(w.page, "workbench-received-lists-phone");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("shipped, then cancelled: the foundry's items show each change at once, and the dispatch document stays to download", async () => {
    const w = await wb.workbench("foundry", "stock");
    const row = w.page.locator(`tr[data-item="${KEPT}"]`);
    await expect.poll(() => row.getAttribute("data-status"), { timeout: 30_000 }).toBe("active");
    await row.locator("input").check();
    await w.page.getByTestId("ship-open").click();
    await w.page.getByTestId("ship-from").fill(FOUNDRY_GLN);
    await w.page.getByTestId("ship-to").fill(OEM_GLN);
    await w.page.getByTestId("ship-advice").fill("DA-POLISH-2");
    await w.page.getByTestId("ship-send").click();
    await captured(w);
    await expect.poll(() => row.getAttribute("data-status"), { timeout: 30_000 }).toBe("inTransit");
    expect(await w.page.getByTestId("dispatch-download").isVisible()).toBe(true);
    expect(await w.page.locator("form h3").textContent()).toBe("Ship 1 items");
    await screenshot(w.page, "workbench-shipped-refreshed-desktop");

    await w.page.getByTestId("cancel-open").click();
    await w.page.getByTestId("cancel-site").fill(FOUNDRY_GLN);
    await w.page.getByTestId("cancel-send").click();
    await captured(w);
    await expect.poll(() => row.getAttribute("data-status"), { timeout: 30_000 }).toBe("active");
    expect(await w.page.getByTestId("stock-count").getAttribute("data-held")).toBe("1");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("every button on the stock, receive and share tabs is seen, on a desktop in English and on a phone in Chinese", async () => {
    // The foundry asks for the OEM's pump: the request waits on the OEM's Share tab.
    const url = wb.members.oem.gw.url;
    const foundry = await openPage(wb.browser, url, PHONE);
    await foundry.page.goto(`${url}/explorer/#/signin`);
    await foundry.page.getByLabel("Demo private key (printed by npm start)").fill(wb.chain.orgs.foundry.signer.privateKey);
    await foundry.page.getByRole("button", { name: "Sign in with the demo key" }).click();
    await foundry.page.getByTestId("signed-in").waitFor();
    await foundry.page.goto(`${url}/explorer/#/item/${encodeURIComponent(PUMP)}`);
    const form = foundry.page.getByTestId("request-access");
    await form.waitFor({ timeout: 30_000 });
    await form.locator("input[name=purpose]").fill("Warranty claim W-99 for the pump of the second line");
    await form.locator("button[type=submit]").click();
    await form.getByRole("status").waitFor({ timeout: 30_000 });
    expect(await unreadableControls(foundry.page, "main")).toEqual([]);
    expect(await overflowsHorizontally(foundry.page)).toBe(false);
    await foundry.page.context().close();

    for (const [viewport, lang, size] of [[DESKTOP, "en", "desktop"], [PHONE, "zh", "phone"]] as const) {
      const f = await wb.workbench("foundry", "stock", viewport);
      if (lang === "zh") await f.page.locator("[data-lang=zh]").click();
      await f.page.getByTestId("stock-count").waitFor({ timeout: 30_000 });
      expect(await unreadableControls(f.page, "main", ["[data-testid=stock-search]", ".wb-form button.link"])).toEqual([]);
      await screenshot(f.page, `workbench-stock-buttons-${size}-${lang}`);
      expect(await overflowsHorizontally(f.page)).toBe(false);
      await f.page.context().close();

      const o = await wb.workbench("oem", "share", viewport);
      if (lang === "zh") await o.page.locator("[data-lang=zh]").click();
      await o.page.locator('[data-testid=access-requests] li[data-state="pending"]').waitFor({ timeout: 30_000 });
      expect(await unreadableControls(o.page, "main", ["[data-testid=approve]", "[data-testid=decline]", "[data-testid=grant-send]"])).toEqual([]);
      expect(await overflowsHorizontally(o.page)).toBe(false);
      await screenshot(o.page, `workbench-share-requests-${size}-${lang}`);
      await o.page.goto(`${url}/explorer/#/workbench/receive`);
      await o.page.getByTestId("shipments-refresh").waitFor({ timeout: 30_000 });
      expect(await unreadableControls(o.page, "main", ["[data-testid=shipments-refresh]"])).toEqual([]);
      expect(await overflowsHorizontally(o.page)).toBe(false);
      expect(o.errors).toEqual([]);
      await o.page.context().close();
    }
  }, 240_000);
});
