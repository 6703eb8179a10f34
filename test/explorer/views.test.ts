/**
 * Recall at a glance in the explorer (real Chromium, real gateway, real chain and index): the
 * steel mill melts heat HEAT-1 into two billets, one goes to the OEM and into pump PUMP-1, the mill
 * shares the heat with the OEM and recalls it. The OEM opens the pump: a banner at the top names
 * the heat, who recalled it and when, how far the recall reaches and what the OEM holds of it, and
 * the status no longer says "active"; the heat's page lists both billets and the pump. The
 * foundry, which holds no grant, sees the same recall but no serial or lot. An anonymous visitor
 * who scans the pump's QR code gets its public passport, and the consortium's member directory
 * without its proposals. Desktop and 375 px, English and Chinese; a Chinese page may show no
 * English word outside identifiers and names.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { id } from "ethers";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChainAccessChecker } from "../../lib/access.ts";
import { eventHash as cbvEventHash } from "../../lib/epcis/event-hash.ts";
import { ScopeKind } from "../../lib/registry.ts";
import { ChainClient } from "../../node/chain/client.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { Indexer } from "../../node/indexer/index.ts";
import { indexService } from "../../node/indexer/service.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";
import { DISP_ACTIVE, ORG_ID, PURPOSE, SCOPE_MTR, type StoryChain, dl, done, eventHash, key, lot, lotKey, storyOn } from "../helpers/story.ts";
import { EXPLORER_DIST, PHONE, SKIP_MESSAGE, type WatchedPage, englishWords, hasChromium, launchBrowser, openPage, overflowsHorizontally, screenshot } from "./browser.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const FIXTURES = path.resolve(import.meta.dirname, "../../../shared/fixtures/epcis");
const CONTEXT = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"];
/** The test lab's EN 10204 3.1 certificate of the heat, issued before the recall. */
const HEAT_CERTIFICATE = id("certificate:HEAT-1");

describe.skipIf(!hasChromium)("OEM and regulator views in Chromium: recall at a glance, passport, directory", () => {
  let tc: TestChain;
  let story: StoryChain;
  let dir: string;
  let indexer: Indexer;
  let events: OpenEvents;
  let gw: TestGateway;
  let browser: Browser;

  /** A document of `owner` about `subjects`, held at the OEM's node (received from the mill's when not the OEM's own); its CBV hash for the chain. */
  async function held(owner: "steel" | "oem", label: string, event: Record<string, unknown>): Promise<string> {
    const full = { type: "ObjectEvent", eventTime: "2026-12-01T08:00:00.000Z", eventTimeZoneOffset: "+00:00", ...event, "example:note": label };
    const h = cbvEventHash(full, { context: CONTEXT });
    const base = { hashId: h.hashId, recordHash: h.digest, context: CONTEXT, owner: ORG_ID[owner], event: full };
    if (owner === "oem") await events.store.putOwn([{ ...base, origin: { kind: "own", captureId: label } }]);
    else await events.store.putReceived({ ...base, origin: { kind: "received", peerId: "12D3KooWtest", org: ORG_ID[owner], grant: { scopeKey: lotKey("HEAT-1") }, receivedAt: new Date().toISOString() } });
    return h.digest;
  }

  beforeAll(async () => {
    if (!existsSync(EXPLORER_DIST)) throw new Error(`${EXPLORER_DIST} is missing: run npm run explorer:build (npm test builds it)`);
    tc = await startTestChain();
    story = storyOn(tc);
    dir = mkdtempSync(path.join(tmpdir(), "tm-explorer-views-"));
    indexer = await Indexer.open({ provider: story.provider, deployment: tc.deployment, store: path.join(dir, "index") });
    events = await openEvents({
      dataDir: dir,
      deployment: tc.deployment,
      client: new ChainClient(story.provider),
      signer: tc.orgs.oem.signer,
      provider: story.provider,
      validator: { schemaPath: path.join(FIXTURES, "EPCIS-JSON-Schema.json") },
      contexts: path.join(FIXTURES, "epcis-context.jsonld"),
      access: new ChainAccessChecker(tc.deployment.contracts, story.provider, { ttlMs: 0 }),
      genealogy: indexService(indexer).queries,
    });
    const { as } = story;
    const heat = lotKey("HEAT-1");
    const billets = [key("BILLET-1"), key("BILLET-2")];
    const melt = await held("steel", "melt", { action: "ADD", bizStep: "commissioning", epcList: [dl("BILLET-1"), dl("BILLET-2")], quantityList: [{ epcClass: lot("HEAT-1") }] });
    await done(as.steel.provenance.commissionBatch(heat, billets, DISP_ACTIVE, melt));
    await done(as.steel.provenance.ship([billets[0]!], ORG_ID.oem, true, eventHash("ship-billet")));
    await done(as.oem.provenance.receiveShipment([billets[0]!], eventHash("receive-billet")));
    await done(as.oem.provenance.commission(key("PUMP-1"), DISP_ACTIVE, await held("oem", "pump", { action: "ADD", bizStep: "commissioning", epcList: [dl("PUMP-1")] })));
    await done(as.oem.provenance.assemble(key("PUMP-1"), [billets[0]!], eventHash("assemble-pump")));
    await done(as.regulator.certificates.accredit(ORG_ID.lab, SCOPE_MTR, 0));
    await done(as.lab.certificates.issue(HEAT_CERTIFICATE, heat, SCOPE_MTR, 0, 0));
    const far = Math.floor(Date.now() / 1000) + 86_400;
    await done(as.steel.accessGrants.grantAccess(ORG_ID.oem, ScopeKind.Batch, heat, PURPOSE, 0, 0, far));
    await done(as.steel.provenance.recallBatch(heat, await held("steel", "recall", { action: "OBSERVE", epcList: [], quantityList: [{ epcClass: lot("HEAT-1") }], disposition: "recalled" })));
    await indexer.sync();
    gw = await startTestGateway({ chain: tc, node: "oem", services: { index: indexService(indexer), events }, gateway: { explorerDir: EXPLORER_DIST, rateLimit: false } });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await indexer?.stop();
    await events?.close();
    await story?.stop();
    await tc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The OEM's explorer (or the foundry's view of it), signed in through the page with a LOCAL DEMO key. */
  async function signedIn(who: "oem" | "foundry", viewport?: typeof PHONE, locale?: string): Promise<WatchedPage> {
    const w = await openPage(browser, gw.url, viewport, locale);
    await w.page.goto(`${gw.url}/explorer/#/signin`);
    await w.page.locator("#demo-key").fill(tc.orgs[who].signer.privateKey);
    await w.page.locator("#demo-key ~ button[type=submit], form:has(#demo-key) button[type=submit]").first().click();
    await w.page.getByTestId("signed-in").waitFor();
    return w;
  }

  const banner = (w: WatchedPage) => w.page.getByTestId("recall-banner");

  it("the OEM opens the recalled pump: the banner names the heat, who recalled it, when, the reach and what the OEM holds; the status is not 'active'", async () => {
    for (const viewport of [undefined, PHONE]) {
      const w = await signedIn("oem", viewport);
      const warnings: string[] = [];
      w.page.on("console", (m) => m.type() === "warning" && warnings.push(m.text()));
      await w.page.goto(`${gw.url}/explorer/#/item/${encodeURIComponent(dl("PUMP-1"))}`);
      await banner(w).waitFor();
      const text = (await banner(w).textContent())!;
      expect(text).toContain("Affected by a recall");
      expect(text).toContain("Because of batch GTIN 09521234543213 · lot HEAT-1");
      expect(text).toContain("recalled by Northern Steel Mill");
      expect(text).toMatch(/20\d\d/);
      // Both billets and the pump; the OEM holds the billet inside its pump and the pump.
      expect(text).toContain("This recall reaches 3 items. You hold 2 of them.");
      const status = await w.page.locator(".facts dd").nth(2).textContent();
      expect(status).not.toMatch(/active/);
      expect(status).toContain("Affected by a recall");
      expect(await overflowsHorizontally(w.page)).toBe(false);
      await screenshot(w.page, `recall-pump-${viewport ? "phone" : "desktop"}-en`);
      // The genealogy names the billet the OEM may read about, not by its hash.
      await w.page.locator(`.graph-list li[data-key="${key("BILLET-1")}"]`).waitFor();
      expect(await w.page.locator(`.graph-list li[data-key="${key("BILLET-1")}"]`).textContent()).toContain("S/N BILLET-1");
      expect(w.errors).toEqual([]);
      // Badge icons are drawn, not emoji (an emoji is an empty box without an emoji font).
      await w.page.locator('.badge[data-badge="withheld"] svg.icon').first().waitFor();
      expect(await w.page.locator("article").textContent()).not.toMatch(/\p{Extended_Pictographic}/u);
      // Cytoscape warns about a custom wheel sensitivity, among others: none left.
      expect(warnings).toEqual([]);
      expect(w.foreign).toEqual([]);
      // The banner's heat opens the heat's page: every billet and the pump its recall reaches.
      await banner(w).getByRole("link").first().click();
      const reach = w.page.getByTestId("recall-reach");
      await reach.waitFor();
      const listed = (await reach.textContent())!;
      for (const id of ["S/N BILLET-1", "S/N BILLET-2", "S/N PUMP-1"]) expect(listed).toContain(id);
      expect(await banner(w).textContent()).toContain("Recalled");
      expect(await overflowsHorizontally(w.page)).toBe(false);
      await screenshot(w.page, `recall-heat-${viewport ? "phone" : "desktop"}-en`);
      await w.page.context().close();
    }
  });

  it("in Chinese the banner and the heat's reach use no English word beyond identifiers and names", async () => {
    for (const viewport of [undefined, PHONE]) {
      const w = await signedIn("oem", viewport, "zh-CN");
      await w.page.goto(`${gw.url}/explorer/#/item/${encodeURIComponent(dl("PUMP-1"))}`);
      await banner(w).waitFor();
      expect(await banner(w).textContent()).toContain("受召回影响");
      expect(await englishWords(w.page, "[data-testid=recall-banner]")).toEqual([]);
      expect(await englishWords(w.page, ".facts")).toEqual([]);
      expect(await overflowsHorizontally(w.page)).toBe(false);
      await screenshot(w.page, `recall-pump-${viewport ? "phone" : "desktop"}-zh`);
      await w.page.goto(`${gw.url}/explorer/#/item/${encodeURIComponent(lot("HEAT-1"))}`);
      await w.page.getByTestId("recall-reach").waitFor();
      expect(await englishWords(w.page, "[data-testid=recall-reach]")).toEqual([]);
      expect(await overflowsHorizontally(w.page)).toBe(false);
      await screenshot(w.page, `recall-heat-${viewport ? "phone" : "desktop"}-zh`);
      await w.page.context().close();
    }
  });

  it("an anonymous visitor who scans the pump's QR code sees its public passport: affected by a recall of a batch, its maker; no heat, no supplier, no component", async () => {
    for (const [viewport, locale] of [[undefined, "en-GB"], [PHONE, "zh-CN"]] as const) {
      const w = await openPage(browser, gw.url, viewport, locale);
      // The QR code's Digital Link, resolved by the gateway to the explorer page.
      await w.page.goto(`${gw.url}/01/09521234543213/21/PUMP-1`);
      const passport = w.page.getByTestId("passport");
      await passport.waitFor();
      expect(await passport.getAttribute("data-recall")).toBe("in-scope");
      const text = (await passport.textContent())!;
      expect(text).toContain(locale === "zh-CN" ? "其所用的某个批次已被召回" : "A batch it was made from was recalled");
      // The maker, not its supplier: who recalled the heat is not for every visitor.
      expect(text).toContain("Atlas Motors");
      expect(text).not.toContain("Northern Steel Mill");
      expect(await w.page.locator("article").textContent()).not.toMatch(/HEAT-1|BILLET/);
      if (locale === "zh-CN") expect(await englishWords(w.page, "[data-testid=passport]")).toEqual([]);
      expect(await overflowsHorizontally(w.page)).toBe(false);
      await screenshot(w.page, `passport-pump-${viewport ? "phone" : "desktop"}-${locale === "zh-CN" ? "zh" : "en"}`);
      expect(w.errors).toEqual([]);
      await w.page.context().close();
    }
  });

  it("the consortium page is public: an anonymous visitor sees members and roles in Chinese, not the proposals", async () => {
    for (const viewport of [undefined, PHONE]) {
      const w = await openPage(browser, gw.url, viewport, "zh-CN");
      await w.page.goto(`${gw.url}/explorer/#/consortium`);
      await w.page.getByTestId("proposals-members-only").waitFor();
      const table = (await w.page.locator("table").textContent())!;
      expect(table).toContain("Atlas Motors");
      expect(table).toContain("制造商");
      expect(await englishWords(w.page, "article")).toEqual([]);
      expect(await overflowsHorizontally(w.page)).toBe(false);
      await screenshot(w.page, `consortium-anonymous-${viewport ? "phone" : "desktop"}-zh`);
      expect(w.errors).toEqual([]);
      await w.page.context().close();
    }
  });

  it("a certificate shows its type and scope, and says when its still-valid certificate's subject is recalled", async () => {
    for (const [viewport, locale] of [[undefined, "en-GB"], [PHONE, "zh-CN"]] as const) {
      const w = await openPage(browser, gw.url, viewport, locale);
      await w.page.goto(`${gw.url}/explorer/#/certificate/${HEAT_CERTIFICATE}`);
      await w.page.locator('.cert[data-state="valid"]').waitFor();
      expect(await w.page.getByTestId("cert-scope").textContent()).toBe("EN 10204 3.1");
      const tie = w.page.getByTestId("cert-subject-recall");
      await tie.waitFor();
      expect(await tie.textContent()).toContain(locale === "zh-CN" ? "已被召回" : "has been recalled");
      expect(await overflowsHorizontally(w.page)).toBe(false);
      await screenshot(w.page, `certificate-recalled-subject-${viewport ? "phone" : "desktop"}-${locale === "zh-CN" ? "zh" : "en"}`);
      expect(w.errors).toEqual([]);
      await w.page.context().close();
    }
  });

  it("the foundry, without a grant, sees the recall but neither the heat's lot nor any serial", async () => {
    const w = await signedIn("foundry");
    await w.page.goto(`${gw.url}/explorer/#/item/${key("PUMP-1")}`);
    await banner(w).waitFor();
    const text = (await banner(w).textContent())!;
    expect(text).toContain("Because of batch 0x");
    expect(text).not.toContain("HEAT-1");
    expect(text).toContain("You hold 0 of them.");
    await w.page.locator(`.graph-list li[data-key="${key("BILLET-1")}"]`).waitFor();
    expect(await w.page.locator(".graph-list").textContent()).not.toContain("BILLET-1");
    await w.page.context().close();
  });
});
