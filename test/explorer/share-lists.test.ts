/**
 * The Share tab's grant lists follow what is done on the tab, in real Chromium against a real
 * gateway, chain and chain index: the OEM approves a partner's access request, and the grant shows
 * among "Granted by us" without a reload; revoking it shows it revoked; declining another request
 * marks that request declined. The chain index here follows the chain only when the test says so,
 * so the tab is seen waiting for it (longer than a quick poll would wait) and catching up the moment
 * the index reads the block. A partner on its own gateway's explorer is told where to ask. Screenshots:
 * reports/screenshots/share-lists-*.png.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commission, gtin, sgtin } from "../../lib/epcis/builders.ts";
import { AccessRequestStore } from "../../node/passport/access-requests.ts";
import { SKIP_MESSAGE, hasChromium, screenshot } from "./browser.ts";
import { OEM_GLN, OEM_SITE, type WorkbenchMembers, startWorkbenchMembers } from "./workbench-members.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const PUMPS = ["PUMP-1", "PUMP-2"].map((s) => sgtin(gtin(OEM_SITE, "00007"), s));

describe.skipIf(!hasChromium)("the Share tab's lists after approve, decline and revoke", () => {
  let wb: WorkbenchMembers;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "tm-share-lists-"));
    // The index reads the chain once at start, then only on syncIndex().
    wb = await startWorkbenchMembers("share-lists", { oem: { accessRequests: await AccessRequestStore.open(path.join(dir, "requests")) } }, { grants: ["oem"], indexPollMs: 3_600_000 });
    await wb.capture("oem", [commission({ time: new Date().toISOString(), at: OEM_GLN, items: PUMPS })]);
    await wb.syncIndex();
    // The foundry asks the OEM's gateway for each pump.
    const oem = wb.members.oem.gw;
    const token = await oem.signIn("foundry");
    for (const [i, pump] of PUMPS.entries()) {
      const res = await oem.request("/access-requests", { token, json: { subject: pump, scope: "item", purpose: `Warranty claim W-${i + 1}`, days: 30 } });
      expect(res.status, await res.clone().text()).toBe(201);
    }
  }, 240_000);

  afterAll(async () => {
    await wb?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("an approved request's grant shows among the grants given once the index reads its block, without a reload; revoked and declined show too", async () => {
    const w = await wb.workbench("oem", "share");
    const requests = w.page.getByTestId("access-requests");
    const given = w.page.getByTestId("grants-given");
    const waiting = w.page.getByTestId("grants-waiting");
    await requests.locator('li[data-state="pending"]').nth(1).waitFor();
    await w.page.getByText("You have not granted anyone access yet.").waitFor();

    await requests.locator('li[data-state="pending"]', { hasText: "W-1" }).getByTestId("approve").click();
    await w.page.getByTestId("access-outcome").waitFor({ timeout: 30_000 });
    await requests.locator('li[data-state="approved"]', { hasText: "W-1" }).waitFor();
    // The index has not read the grant's block: the tab says so, and keeps waiting past a quick poll's patience.
    await waiting.waitFor();
    expect(await waiting.getAttribute("data-late")).toBe("false");
    expect(await waiting.textContent()).toMatch(/^Recorded in block \d+;/);
    await w.page.waitForTimeout(16_000);
    expect(await given.locator("li").count()).toBe(0);
    await screenshot(w.page, "share-lists-waiting");

    await wb.syncIndex();
    await given.locator('li[data-state="live"]').waitFor({ timeout: 10_000 });
    await waiting.waitFor({ state: "detached" });
    expect(await given.locator("li").count()).toBe(1);
    // In the request's words, not the chain's hashes.
    expect(await given.locator("li").textContent()).toContain("for Warranty claim W-1");
    expect(await given.locator("li .subject").textContent()).toBe(PUMPS[0]);
    await screenshot(w.page, "share-lists-approved");

    await given.getByTestId("grant-revoke").click();
    await waiting.waitFor({ timeout: 30_000 });
    await wb.syncIndex();
    await given.locator('li[data-state="revoked"]').waitFor({ timeout: 10_000 });

    await requests.locator('li[data-state="pending"]', { hasText: "W-2" }).getByTestId("decline").click();
    await requests.locator('li[data-state="declined"]', { hasText: "W-2" }).waitFor({ timeout: 10_000 });
    expect(await given.locator("li").count()).toBe(1);
    await screenshot(w.page, "share-lists-revoked-declined");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  }, 180_000);

  it("a partner on its own gateway's explorer is told to ask the maker on the maker's explorer (no form that could not reach it)", async () => {
    const w = await wb.workbench("foundry", "share");
    await w.page.goto(`${wb.members.foundry.gw.url}/explorer/#/item/${encodeURIComponent(PUMPS[0]!)}`);
    const notice = w.page.getByTestId("request-access-elsewhere");
    await notice.waitFor({ timeout: 30_000 });
    expect(await notice.textContent()).toContain(`ask ${wb.chain.orgs.oem.name}, which made it, on the explorer of ${wb.chain.orgs.oem.name}`);
    expect(await w.page.getByTestId("request-access").count()).toBe(0);
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  }, 120_000);
});
