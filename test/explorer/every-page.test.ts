/**
 * Every explorer page, in real Chromium against real gateways, chain and index: in Chinese at
 * 375 px and in English at desktop width, signed in (the OEM) and anonymous. A page fails on any
 * English word left on the Chinese page (outside identifiers, names and the short list of
 * standard terms in ALLOWED), on being wider than its viewport, and on any console error or
 * warning. Screenshots go to reports/screenshots/every-page-*.png.
 *
 * Also the public passport's owner-chosen fields as their maker sets them on the item page: the
 * OEM picks the product name, and an anonymous visitor who scans the pump then sees it, and only it.
 */
import { JsonRpcProvider, Wallet, id } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { organisationGrants } from "../../lib/access-grants.ts";
import { assemble, commission, gtin, receive, ship, sgtin } from "../../lib/epcis/builders.ts";
import { itemKey } from "../../lib/identifiers/canonical.ts";
import type { Reading } from "../../lib/reading.ts";
import { AccessLog, AccessRecorder } from "../../node/access-log/index.ts";
import { Anchorer } from "../../node/chain/anchorer.ts";
import { AnchorChain, ChainClient } from "../../node/chain/client.ts";
import type { NodeStatus } from "../../node/daemon.ts";
import { devicesView } from "../../node/devices-view.ts";
import { IngestPipeline } from "../../node/ingest/pipeline.ts";
import { ProofService } from "../../node/ingest/proofs.ts";
import { IngestStore } from "../../node/ingest/store.ts";
import { PassportChoiceStore } from "../../node/passport/choices.ts";
import { AccessRequestStore } from "../../node/passport/access-requests.ts";
import { SCOPE_MTR, done } from "../helpers/story.ts";
import { DESKTOP, PHONE, SKIP_MESSAGE, type WatchedPage, englishWords, hasChromium, openPage, overflowsHorizontally, screenshot } from "./browser.ts";
import { FOUNDRY_GLN, FOUNDRY_SITE, OEM_GLN, OEM_SITE, type WorkbenchMembers, startWorkbenchMembers } from "./workbench-members.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const CASTINGS = ["C-1", "C-2"].map((s) => sgtin(gtin(FOUNDRY_SITE, "00021"), s));
const PUMP_GTIN = gtin(OEM_SITE, "00007");
const PUMP = sgtin(PUMP_GTIN, "PUMP-1");
const TORQUE = "station-3/torque";
const CERTIFICATE = id("certificate:PUMP-1");

/** The OEM node's status as daemon.ts reports it: one press, window 4 anchored a minute ago. */
const oemNode = {
  status: () =>
    ({
      startedAt: Date.now() - 600_000,
      node: "0x00000000000000000000000000000000000000f1",
      windows: { closed: 5, anchored: 4, pending: 1, open: null },
      lastAnchor: { sequence: 4, anchoredAt: Math.floor(Date.now() / 1000) - 60 },
      anchoring: { state: "idle", attempts: 0 },
      ingest: { skewedReadings: 0, timing: [] },
      adapters: [{ device: "station-3", state: "connected", readings: 250, gaps: 0 }],
    }) as unknown as NodeStatus,
  streamReadings: () => new Map([[TORQUE, 250]]),
};

describe.skipIf(!hasChromium)("every explorer page in Chinese on a phone and in English on a desktop", () => {
  let wb: WorkbenchMembers;
  let dir: string;
  let accessLog: AccessLog;
  let ingest: { store: IngestStore; pipeline: IngestPipeline; anchorer: Anchorer } | undefined;
  let readingsEvent: string;
  let provider: JsonRpcProvider;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "tm-every-page-"));
    wb = await startWorkbenchMembers("every-page", {
      oem: {
        devices: devicesView(oemNode),
        passportChoices: await PassportChoiceStore.open(path.join(dir, "passport-choices")),
        accessRequests: await AccessRequestStore.open(path.join(dir, "access-requests")),
      },
    });
    const { chain, members } = wb;
    const oem = members.oem.gw.services;
    // No request cache: back-to-back transactions of one account must each see the new nonce.
    provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
    provider.pollingInterval = 50;
    const client = new ChainClient(provider, { pollMs: 25 });
    const oemSigner = new Wallet(chain.orgs.oem.accounts.at(-1)!.privateKey, provider);
    // Grants go out from an account of their own: the last one captures, with its own nonce manager.
    const grantSigner = new Wallet(chain.orgs.oem.accounts[0]!.privateKey, provider);
    oem.grants = organisationGrants({ owner: chain.orgs.oem.id, contracts: chain.orgs.oem.contracts, address: chain.deployment.contracts.accessGrants, provider, client, signer: grantSigner });
    accessLog = await AccessLog.open(path.join(dir, "access-log"));
    oem.accessLog = new AccessRecorder(accessLog, chain.orgs.oem.contracts.accessGrants);

    // The OEM's tightening station: 25 torque readings, ingested and anchored, bound to the assembly.
    const store = await IngestStore.open(path.join(dir, "ingest"));
    const pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 7), { windowMs: 3_600_000 });
    const anchorer = new Anchorer(store, pipeline, await AnchorChain.create(client, chain.deployment.contracts.dataAnchors, oemSigner), { retry: { minMs: 20, maxMs: 100 } });
    pipeline.on("window", () => anchorer.notify());
    await anchorer.start();
    ingest = { store, pipeline, anchorer };
    const t0 = Date.now();
    const torque = (i: number): Reading => ({ stream: TORQUE, metric: "torque", unit: "N.m", value: Math.round(85 * (1 - Math.exp(-i / 6)) * 10) / 10, sourceTime: t0 + i * 40, quality: "good" });
    await pipeline.write(Array.from({ length: 25 }, (_, i) => torque(i)));
    await pipeline.closeWindow();
    await anchorer.anchoredUpTo(1);
    oem.proofs = new ProofService(store, oemSigner.address);

    // The foundry casts two housings and ships them; the OEM receives them and builds one into its pump.
    const now = () => new Date().toISOString();
    await wb.capture("foundry", [commission({ time: now(), at: FOUNDRY_GLN, items: CASTINGS }), ship({ time: now(), at: FOUNDRY_GLN, from: FOUNDRY_GLN, to: OEM_GLN, items: CASTINGS })]);
    await wb.capture("oem", [
      receive({ time: now(), at: OEM_GLN, from: FOUNDRY_GLN, items: CASTINGS }),
      commission({ time: now(), at: OEM_GLN, items: [PUMP], productionDate: "2026-12-01" }),
      { ...assemble({ time: now(), at: OEM_GLN, parent: PUMP, children: [CASTINGS[0]!] }), "tm:readings": [{ "tm:stream": TORQUE, "tm:startTime": new Date(t0).toISOString(), "tm:endTime": new Date(t0 + 1000).toISOString() }] },
    ]);
    // The OEM names its pump in its master data (kept as capture keeps it: this chain registers no prefixes, which capture checks).
    await members.oem.events.store.putMasterData([{ vocabulary: "EPCClass", id: `https://id.gs1.org/01/${PUMP_GTIN}`, attributes: { "urn:epcglobal:cbv:mda:name": "Pump PX-40" }, children: [], owner: chain.orgs.oem.id, updatedAt: now() }]);
    const [assembly] = (await members.oem.events.store.query({ eventType: ["AggregationEvent"] }, { perPage: 1, audience: "test", filter: async () => true })).events;
    readingsEvent = assembly!.hashId;
    // A test lab's EN 10204 3.1 certificate of the pump.
    await done(chain.orgs.regulator.contracts.certificates.accredit(chain.orgs.lab.id, SCOPE_MTR, 0));
    await done(chain.orgs.lab.contracts.certificates.issue(CERTIFICATE, itemKey(PUMP), SCOPE_MTR, 0, 0));
  }, 240_000);

  afterAll(async () => {
    await ingest?.anchorer.stop();
    await ingest?.pipeline.stop();
    await ingest?.store.close();
    await accessLog?.close();
    provider?.destroy();
    await wb?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The OEM's explorer in `locale`, signed in through the page with the demo key of `who`. */
  async function signedIn(viewport: typeof PHONE, locale: string, who: "oem" | "foundry" = "oem"): Promise<WatchedPage> {
    const url = wb.members.oem.gw.url;
    const w = await openPage(wb.browser, url, viewport, locale);
    await w.page.goto(`${url}/explorer/#/signin`);
    await w.page.locator("#demo-key").fill(wb.chain.orgs[who].signer.privateKey);
    await w.page.locator("form:has(#demo-key) button[type=submit]").first().click();
    await w.page.getByTestId("signed-in").waitFor();
    return w;
  }

  const enc = encodeURIComponent;
  /** Each page and what shows it has finished loading. */
  const memberPages = (): [string, string, string][] => [
    ["search", "#/", "form"],
    ["item", `#/item/${enc(PUMP)}`, ".timeline .event"],
    ["item-component", `#/item/${enc(CASTINGS[0]!)}`, ".timeline .event"],
    ["certificate", `#/certificate/${CERTIFICATE}`, ".cert"],
    ["certificate-upload", "#/certificate", "form"],
    ["consortium", "#/consortium", "table"],
    ["readings", `#/readings/${enc(readingsEvent)}`, `.stream[data-stream="${TORQUE}"][data-verified="25"] canvas`],
    ["access-log", "#/access-log", "[data-testid=access-log], .notice"],
    ["workbench-register", "#/workbench/register", "form"],
    ["workbench-stock", "#/workbench/stock", "table"],
    ["workbench-receive", "#/workbench/receive", "#wb-receive"],
    ["workbench-lots", "#/workbench/lots", "[data-testid=lot-register]"],
    ["workbench-share", "#/workbench/share", "[data-testid=grant-form]"],
    ["workbench-devices", "#/workbench/devices", "[data-device]"],
  ];
  const anonymousPages = (): [string, string, string][] => [
    ["anonymous-search", "#/", "form"],
    ["anonymous-passport", `#/item/${enc(PUMP)}`, "[data-testid=passport]"],
    ["anonymous-certificate", `#/certificate/${CERTIFICATE}`, ".cert"],
    ["anonymous-consortium", "#/consortium", "table"],
  ];

  /** English words under `selector` but member names: proper nouns their members chose, shown as they are. */
  const wordsLeft = async (page: WatchedPage["page"], selector: string) => {
    const names = new Set(Object.values(wb.chain.orgs).flatMap((o) => o.name.split(/\s+/)));
    return (await englishWords(page, selector)).filter((word) => !names.has(word));
  };

  /** The innermost elements reaching past the viewport's right edge (for the failure message). */
  const widest = (w: WatchedPage) =>
    w.page.evaluate(`[...document.querySelectorAll("body *")]
      .filter((e) => !e.closest(".sr-only"))
      .filter((e) => { const r = (x) => x.getBoundingClientRect().left + Math.max(x.scrollWidth, x.getBoundingClientRect().width); return r(e) > window.innerWidth + 1 && ![...e.children].some((c) => r(c) > window.innerWidth + 1); })
      .slice(0, 3)
      .map((e) => e.tagName.toLowerCase() + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : "") + " " + Math.round(e.getBoundingClientRect().left + e.scrollWidth) + ": " + (e.textContent || "").slice(0, 60))`);

  async function sweep(w: WatchedPage, pages: [string, string, string][], lang: "zh" | "en", size: "phone" | "desktop"): Promise<string[]> {
    const failures: string[] = [];
    const url = wb.members.oem.gw.url;
    for (const [name, hash, ready] of pages) {
      await w.page.goto(`${url}/explorer/${hash}`);
      try {
        await w.page.locator(ready).first().waitFor({ timeout: 20_000 });
      } catch {
        failures.push(`${name}: never showed ${ready}`);
      }
      // Let late parts (genealogy, badges, charts) settle, and open what is folded (event details, the readings table).
      await w.page.waitForLoadState("networkidle");
      await w.page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })");
      if (lang === "zh") {
        const words = await wordsLeft(w.page, "body");
        if (words.length > 0) failures.push(`${name}: English words ${JSON.stringify([...new Set(words)])}`);
      }
      if (await overflowsHorizontally(w.page)) failures.push(`${name}: wider than ${size === "phone" ? PHONE.width : DESKTOP.width} px, at ${JSON.stringify(await widest(w))}`);
      await screenshot(w.page, `every-page-${name}-${size}-${lang}`);
    }
    for (const e of w.errors) failures.push(`console error: ${e}`);
    for (const e of w.warnings) failures.push(`console warning: ${e}`);
    expect(w.foreign).toEqual([]);
    return failures;
  }

  it("signed in, Chinese at 375 px: no English word, nothing wider than the phone, a clean console", async () => {
    const w = await signedIn(PHONE, "zh-CN");
    expect(await sweep(w, memberPages(), "zh", "phone")).toEqual([]);
    await w.page.context().close();
  }, 240_000);

  it("signed in, English on a desktop: nothing wider than the window, a clean console", async () => {
    const w = await signedIn(DESKTOP, "en-GB");
    expect(await sweep(w, memberPages(), "en", "desktop")).toEqual([]);
    await w.page.context().close();
  }, 240_000);

  it("anonymous, both: the public pages in Chinese at 375 px and English on a desktop", async () => {
    for (const [viewport, locale, lang, size] of [[PHONE, "zh-CN", "zh", "phone"], [DESKTOP, "en-GB", "en", "desktop"]] as const) {
      const w = await openPage(wb.browser, wb.members.oem.gw.url, viewport, locale);
      expect(await sweep(w, anonymousPages(), lang, size)).toEqual([]);
      await w.page.context().close();
    }
  }, 240_000);

  it("the OEM chooses its pump's public fields on the item page; an anonymous visitor then sees the product name, and nothing it did not choose", async () => {
    const w = await signedIn(DESKTOP, "en-GB");
    await w.page.goto(`${wb.members.oem.gw.url}/explorer/#/item/${enc(PUMP)}`);
    const form = w.page.getByTestId("passport-fields");
    await form.waitFor();
    expect(await form.textContent()).toContain("Pump PX-40");
    await form.locator('input[name="productName"]').check();
    await form.getByRole("button").click();
    await form.getByRole("status").waitFor();
    await screenshot(w.page, "passport-fields-owner-desktop-en");
    expect(w.errors).toEqual([]);
    await w.page.context().close();

    // The foundry, another member, gets no form for the OEM's pump.
    const foundry = await signedIn(DESKTOP, "en-GB", "foundry");
    await foundry.page.goto(`${wb.members.oem.gw.url}/explorer/#/item/${enc(PUMP)}`);
    await foundry.page.locator(".facts").first().waitFor();
    await foundry.page.waitForLoadState("networkidle");
    expect(await foundry.page.getByTestId("passport-fields").count()).toBe(0);
    await foundry.page.context().close();

    for (const [viewport, locale] of [[PHONE, "zh-CN"], [DESKTOP, "en-GB"]] as const) {
      const visitor = await openPage(wb.browser, wb.members.oem.gw.url, viewport, locale);
      await visitor.page.goto(`${wb.members.oem.gw.url}/explorer/#/item/${enc(PUMP)}`);
      const field = visitor.page.locator('[data-testid=passport] dd[data-field="productName"]');
      await field.waitFor();
      expect(await field.textContent()).toBe("Pump PX-40");
      expect(await visitor.page.locator("[data-testid=passport] dd[data-field]").count()).toBe(1);
      expect(await visitor.page.locator("[data-testid=passport]").textContent()).not.toContain("2026-12-01");
      expect(await overflowsHorizontally(visitor.page)).toBe(false);
      await screenshot(visitor.page, `passport-fields-visitor-${viewport === PHONE ? "phone-zh" : "desktop-en"}`);
      expect(visitor.errors).toEqual([]);
      await visitor.page.context().close();
    }
  }, 240_000);

  it("the foundry asks for the OEM's pump on the item page; the OEM approves on its Share tab; the grant is on chain and the foundry sees it approved", async () => {
    const url = wb.members.oem.gw.url;
    const foundry = await signedIn(PHONE, "zh-CN", "foundry");
    await foundry.page.goto(`${url}/explorer/#/item/${enc(PUMP)}`);
    const form = foundry.page.getByTestId("request-access");
    await form.waitFor();
    await form.locator("select[name=scope]").selectOption("item-genealogy");
    await form.locator("input[name=purpose]").fill("Warranty claim W-17");
    await form.locator("input[name=days]").fill("14");
    await form.locator("button[type=submit]").click();
    await form.getByRole("status").waitFor();
    await foundry.page.locator('[data-testid=my-requests] li[data-state="pending"]').waitFor();
    expect(await wordsLeft(foundry.page, "[data-testid=request-access]")).toEqual([]);
    expect(await overflowsHorizontally(foundry.page)).toBe(false);
    await screenshot(foundry.page, "access-request-partner-phone-zh");

    const oem = await signedIn(DESKTOP, "en-GB");
    await oem.page.goto(`${url}/explorer/#/workbench/share`);
    const pending = oem.page.locator('[data-testid=access-requests] li[data-state="pending"]');
    await pending.waitFor();
    expect(await pending.textContent()).toContain("Warranty claim W-17");
    await pending.getByTestId("approve").click();
    const outcome = oem.page.getByTestId("access-outcome");
    await outcome.waitFor({ timeout: 30_000 });
    expect(await outcome.textContent()).toBe(`Granted to ${wb.chain.orgs.foundry.name}.`);
    await oem.page.locator('[data-testid=access-requests] li[data-state="approved"]').waitFor();
    await screenshot(oem.page, "access-request-owner-desktop-en");
    expect(oem.errors).toEqual([]);
    await oem.page.context().close();
    expect(await wb.chain.orgs.foundry.contracts.accessGrants.isAllowed(wb.chain.orgs.foundry.id, wb.chain.orgs.oem.id, itemKey(PUMP))).toBe(true);

    await foundry.page.reload();
    await foundry.page.locator('[data-testid=my-requests] li[data-state="approved"]').waitFor();
    expect(foundry.errors).toEqual([]);
    await foundry.page.context().close();
  }, 240_000);
});
