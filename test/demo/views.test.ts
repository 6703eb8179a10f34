/**
 * OEM and regulator views on the running demo (issue 17), in a real browser: `npm start` as a
 * user runs it (temporary directory, free ports, fast pace, a recall in every cycle), one start for
 * this file. The OEM opens the recalled pump of cycle 1: the banner at the top names the heat the
 * steel mill recalled, and the heat's page shows the recall reaching the pump. An anonymous
 * visitor scans the pump's QR code and sees its public passport. The lab, signed in at the OEM's
 * explorer, asks for the pump with its genealogy; the OEM approves on its Share tab, and the lab
 * then reads the OEM's documents of the pump it saw withheld before. The foundry asks the OEM
 * for the pump from its own explorer (its node passes the request on over p2p), and the OEM's
 * Share tab lists it. Screenshots go to
 * reports/screenshots/views-*.png; the run ends with one Ctrl-C and a clean stop.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { itemKey } from "../../lib/identifiers/canonical.ts";
import { demoWallet } from "../../scripts/demo/accounts.ts";
import { type DemoOrg, demoOrg } from "../../scripts/demo/consortium.ts";
import { type CycleItems, cycleItems } from "../../scripts/demo/story.ts";
import { PHONE, SKIP_MESSAGE, type WatchedPage, hasChromium, launchBrowser, openPage, overflowsHorizontally, screenshot } from "../explorer/browser.ts";
import { type Demo, type DemoSite, demoSite, expectCleanStop, ready, saveOutput, startDemo, stopDemo, until } from "./harness.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

describe.skipIf(!hasChromium)("OEM and regulator views on the running demo", { timeout: 30 * 60_000 }, () => {
  let site: DemoSite;
  let demo: Demo | undefined;
  let browser: Browser | undefined;
  const items = (cycle: number): CycleItems =>
    cycleItems({ steel: demoOrg("steel").site, foundry: demoOrg("foundry").site, machining: demoOrg("machining").site, oem: demoOrg("oem").site }, cycle);
  const explorer = (key: DemoOrg["key"]) => `${site.gatewayOf(key)}/explorer/`;

  beforeAll(async () => {
    site = await demoSite({ TRACEMESH_DEMO_RECALL_EVERY: "1" });
    demo = startDemo(site);
    await ready(demo);
    await until("the scenario to finish its first cycle", async () => demo!.output().includes("[scenario] cycle 1 done"), demo, 20 * 60_000);
    browser = await launchBrowser();
  }, 40 * 60_000);

  afterAll(async () => {
    await browser?.close();
    if (demo) await stopDemo(demo).finally(() => saveOutput(demo!, "views"));
    site?.remove();
  }, 5 * 60_000);

  /** An explorer (the organisation's own unless `at` says whose), signed in through the page with its LOCAL DEMO key. */
  async function signedIn(key: DemoOrg["key"], at: DemoOrg["key"] = key): Promise<WatchedPage> {
    const w = await openPage(browser!, explorer(at));
    await w.page.goto(`${explorer(at)}#/signin`);
    await w.page.getByLabel("Demo private key (printed by npm start)").fill(demoWallet(demoOrg(key).accountIndex).privateKey);
    await w.page.getByRole("button", { name: "Sign in with the demo key" }).click();
    await w.page.getByTestId("signed-in").waitFor();
    return w;
  }

  it("the OEM opens the recalled pump: the banner names the heat; the heat's page shows the recall reaching the pump", async () => {
    const w = await signedIn("oem");
    const { pump, heat, billets } = items(1);
    await w.page.goto(`${explorer("oem")}#/item/${encodeURIComponent(pump)}`);
    const banner = w.page.getByTestId("recall-banner");
    await banner.waitFor({ timeout: 60_000 });
    const text = (await banner.textContent())!;
    expect(text).toContain(`lot ${heat}`);
    expect(text).toContain(`recalled by ${demoOrg("steel").name}`);
    expect(text).toMatch(/This recall reaches \d+ items\. You hold [1-9]\d* of them\./);
    expect(await w.page.locator(".facts").textContent()).not.toMatch(/\bactive\b/);
    await screenshot(w.page, "views-oem-pump");
    await banner.getByRole("link").first().click();
    const reach = w.page.getByTestId("recall-reach");
    await reach.waitFor({ timeout: 60_000 });
    await reach.locator(`li[data-key="${itemKey(pump)}"]`).waitFor();
    for (const billet of billets) expect(await reach.locator(`li[data-key="${itemKey(billet)}"]`).count()).toBe(1);
    await screenshot(w.page, "views-oem-heat");
    expect(w.foreign).toEqual([]);
    await w.page.context().close();
  });

  it("an anonymous visitor scans the pump's QR code and sees its public passport on a phone", async () => {
    const w = await openPage(browser!, explorer("oem"), PHONE);
    // The QR code carries the pump's Digital Link on the OEM's gateway, which resolves to the explorer.
    await w.page.goto(`${site.gatewayOf("oem")}${new URL(items(1).pump).pathname}`);
    const passport = w.page.getByTestId("passport");
    await passport.waitFor({ timeout: 60_000 });
    expect(await passport.getAttribute("data-recall")).not.toBe("clear");
    expect(await passport.textContent()).toContain(demoOrg("oem").name);
    expect(await w.page.locator("article").textContent()).not.toContain(items(1).heat);
    expect(await overflowsHorizontally(w.page)).toBe(false);
    await screenshot(w.page, "views-anonymous-passport-phone");
    await w.page.context().close();
  });

  it("the lab asks the OEM for its pump; the OEM approves on its Share tab; the lab then reads the OEM's documents of the pump", async () => {
    const { pump } = items(1);
    /** The timeline's badges once the page has checked every one against the chain (none still "checking"). */
    const badges = async (w: WatchedPage) => {
      await w.page.locator(".timeline .event").first().waitFor({ timeout: 60_000 });
      const read = () => w.page.locator(".timeline .event [data-badge]").evaluateAll((els) => els.map((e) => e.getAttribute("data-badge")));
      await expect.poll(async () => (await read()).includes("checking"), { timeout: 60_000 }).toBe(false);
      return read();
    };
    const lab = await signedIn("lab", "oem");
    await lab.page.goto(`${explorer("oem")}#/item/${encodeURIComponent(pump)}`);
    const before = await badges(lab);
    expect(before).toContain("withheld");
    const form = lab.page.getByTestId("request-access");
    await form.waitFor({ timeout: 60_000 });
    await form.locator("select[name=scope]").selectOption("item-genealogy");
    await form.locator("input[name=purpose]").fill("Failure analysis of a recalled pump");
    await form.locator("input[name=days]").fill("30");
    await form.locator("button[type=submit]").click();
    await lab.page.locator('[data-testid=my-requests] li[data-state="pending"]').waitFor({ timeout: 30_000 });
    await screenshot(lab.page, "views-lab-asks-oem");

    const oem = await signedIn("oem");
    await oem.page.goto(`${explorer("oem")}#/workbench/share`);
    const pending = oem.page.locator('[data-testid=access-requests] li[data-state="pending"]');
    await pending.waitFor({ timeout: 60_000 });
    expect(await pending.textContent()).toContain("Failure analysis of a recalled pump");
    await pending.getByTestId("approve").click();
    await oem.page.getByTestId("access-outcome").waitFor({ timeout: 60_000 });
    expect(await oem.page.getByTestId("access-outcome").textContent()).toBe(`Granted to ${demoOrg("lab").name}.`);
    await screenshot(oem.page, "views-oem-approves");
    expect(oem.foreign).toEqual([]);
    await oem.page.context().close();

    // Once the OEM's index has read the grant, the OEM's own records of the pump are no longer withheld.
    const verified = (b: (string | null)[]) => b.filter((x) => x === "verified").length;
    await until(
      "the lab to read the OEM's documents of the pump",
      async () => {
        await lab.page.reload();
        return verified(await badges(lab)) > verified(before);
      },
      demo!,
      2 * 60_000,
    );
    await lab.page.locator('[data-testid=my-requests] li[data-state="approved"]').waitFor({ timeout: 30_000 });
    await screenshot(lab.page, "views-lab-reads-pump");
    expect(lab.foreign).toEqual([]);
    await lab.page.context().close();
  });

  it("the foundry asks the OEM for its pump from the foundry's own explorer: its node passes the request on to the OEM's node, and the OEM's Share tab lists it", async () => {
    const { pump } = items(1);
    const foundry = await signedIn("foundry");
    await foundry.page.goto(`${explorer("foundry")}#/item/${encodeURIComponent(pump)}`);
    const form = foundry.page.getByTestId("request-access");
    await form.waitFor({ timeout: 60_000 });
    expect(await foundry.page.getByTestId("request-access-elsewhere").count()).toBe(0);
    await form.locator("input[name=purpose]").fill("Field returns of castings in this pump");
    await form.locator("button[type=submit]").click();
    const said = form.getByRole("status");
    await said.waitFor({ timeout: 60_000 });
    expect(await said.textContent()).toContain(`Passed on to the node of ${demoOrg("oem").name}`);
    await foundry.page.locator('[data-testid=my-requests] li[data-state="pending"]').waitFor({ timeout: 60_000 });
    await screenshot(foundry.page, "views-foundry-asks-from-own-explorer");
    expect(foundry.foreign).toEqual([]);
    await foundry.page.context().close();

    const oem = await signedIn("oem");
    await oem.page.goto(`${explorer("oem")}#/workbench/share`);
    const pending = oem.page.getByTestId("access-requests").locator('li[data-state="pending"]', { hasText: "Field returns of castings in this pump" });
    await pending.waitFor({ timeout: 60_000 });
    expect(await pending.textContent()).toContain(demoOrg("foundry").name);
    expect(oem.foreign).toEqual([]);
    await oem.page.context().close();
  });

  it("one Ctrl-C stops the demo cleanly", async () => {
    await stopDemo(demo!);
    saveOutput(demo!, "views");
    expectCleanStop(demo!);
    demo = undefined;
  });
});
