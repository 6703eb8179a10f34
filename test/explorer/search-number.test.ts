/**
 * Searching a plain serial or lot number in the explorer (real Chromium, real gateway and chain):
 * a member who may see the item finds it by its serial alone; a serial carried by several items
 * lists them; an unknown number says so in plain words; another member without a grant finds
 * nothing (GET /search answers only identifiers named by events the caller may read).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Wallet } from "ethers";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalIdentifier } from "../../lib/identifiers/canonical.ts";
import { ChainClient } from "../../node/chain/client.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { Indexer } from "../../node/indexer/index.ts";
import { indexService } from "../../node/indexer/service.ts";
import type { OrgKey } from "../helpers/fixture.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";
import { EXPLORER_DIST, SKIP_MESSAGE, type WatchedPage, hasChromium, launchBrowser, openPage, screenshot } from "./browser.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/epcis/", import.meta.url));
const EPCIS_CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
const PUMP = "urn:epc:id:sgtin:0614141.112345.PUMP-7";
const TWINS = ["urn:epc:id:sgtin:0614141.112345.P0001", "urn:epc:id:sgtin:0614141.112346.P0001"];

describe.skipIf(!hasChromium)("explorer: search by a plain serial or lot number", () => {
  let chain: TestChain;
  let gw: TestGateway;
  let events: OpenEvents;
  let indexer: Indexer;
  let browser: Browser;
  let dir: string;
  let eventTime = Date.UTC(2026, 10, 20, 6);

  async function commission(epc: string, token: string): Promise<void> {
    const body = {
      "@context": [EPCIS_CTX],
      type: "EPCISDocument",
      schemaVersion: "2.0",
      creationDate: new Date().toISOString(),
      epcisBody: { eventList: [{ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [epc], eventTime: new Date((eventTime += 60_000)).toISOString(), eventTimeZoneOffset: "+00:00" }] },
    };
    const res = await gw.request("/capture", { method: "POST", token, body: JSON.stringify(body), headers: { "content-type": "application/ld+json" } });
    expect(res.status, await res.clone().text()).toBe(202);
    const location = res.headers.get("location")!;
    for (const deadline = Date.now() + 90_000; Date.now() < deadline; await new Promise((done) => setTimeout(done, 50))) {
      const job = (await (await gw.request(location, { token })).json()) as { running: boolean; errors: unknown[] };
      if (job.running) continue;
      expect(job.errors, JSON.stringify(job.errors)).toEqual([]);
      return;
    }
    throw new Error(`capture ${location} did not finish`);
  }

  /** The explorer signed in through the page as `who` with its demo key. */
  async function signedIn(who: OrgKey): Promise<WatchedPage> {
    const w = await openPage(browser, gw.url);
    await w.page.goto(`${gw.url}/explorer/#/signin`);
    await w.page.getByLabel("Demo private key (printed by npm start)").fill(chain.orgs[who].signer.privateKey);
    await w.page.getByRole("button", { name: "Sign in with the demo key" }).click();
    await w.page.getByTestId("signed-in").waitFor();
    return w;
  }

  /** A clean console: a plain number goes straight to /search, so no failed /resolve is logged either. */
  const unexpected = (w: WatchedPage) => [...w.errors, ...w.warnings];

  async function searchFor(w: WatchedPage, q: string): Promise<void> {
    await w.page.goto(`${gw.url}/explorer/#/`);
    await w.page.getByLabel("Identifier", { exact: true }).fill(q);
    await w.page.getByRole("button", { name: "Search" }).first().click();
  }

  beforeAll(async () => {
    if (!existsSync(EXPLORER_DIST)) throw new Error(`${EXPLORER_DIST} is missing: run npm run explorer:build (npm test builds it)`);
    chain = await startTestChain();
    dir = mkdtempSync(path.join(tmpdir(), "tm-explorer-search-"));
    const provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
    provider.pollingInterval = 50;
    indexer = await Indexer.open({ provider, deployment: chain.deployment, store: path.join(dir, "index") });
    events = await openEvents({
      dataDir: path.join(dir, "oem"),
      deployment: chain.deployment,
      client: new ChainClient(provider, { pollMs: 25 }),
      signer: new Wallet(chain.orgs.oem.accounts.at(-1)!.privateKey, provider),
      validator: { schemaPath: path.join(FIXTURES, "EPCIS-JSON-Schema.json") },
      contexts: path.join(FIXTURES, "epcis-context.jsonld"),
      resolveParty: () => undefined,
      capture: { retryBaseMs: 50, retryMaxMs: 200 },
      genealogy: indexService(indexer).queries,
    });
    gw = await startTestGateway({ chain, node: "oem", services: { events, index: indexService(indexer) }, gateway: { explorerDir: EXPLORER_DIST, rateLimit: false } });
    const oem = await gw.signIn("oem");
    for (const epc of [PUMP, ...TWINS]) await commission(epc, oem);
    // The item page reads the items' records from the chain index.
    await indexer.sync();
    browser = await launchBrowser();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await events?.close();
    await indexer?.stop();
    await chain?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("opens the item a member may see from its serial alone", async () => {
    const w = await signedIn("oem");
    await searchFor(w, "PUMP-7");
    await expect.poll(() => decodeURIComponent(w.page.url()), { timeout: 20_000 }).toContain(`#/item/${canonicalIdentifier(PUMP)}`);
    await w.page.locator(".facts code", { hasText: canonicalIdentifier(PUMP) }).waitFor();
    await w.page.locator(".timeline .event").first().waitFor();
    await screenshot(w.page, "search-serial-item");
    expect(unexpected(w)).toEqual([]);
    await w.page.context().close();
  });

  it("lists the items sharing a serial, and says so when no item has the number", async () => {
    const w = await signedIn("oem");
    const resolveAsked: string[] = [];
    w.page.on("request", (r) => void (r.url().includes("/resolve?") && resolveAsked.push(r.url())));
    await searchFor(w, "P0001");
    const links = w.page.locator(".number-matches li a");
    await links.first().waitFor();
    expect((await links.allTextContents()).sort()).toEqual(TWINS.map((t) => canonicalIdentifier(t)).sort());
    await screenshot(w.page, "search-serial-several");
    await links.first().click();
    await expect.poll(() => decodeURIComponent(w.page.url()), { timeout: 20_000 }).toMatch(/#\/item\/https:\/\/id\.gs1\.org\/01\/\d{14}\/21\/P0001$/);

    await searchFor(w, "NOPE-9");
    await expect.poll(() => w.page.getByRole("status").textContent(), { timeout: 20_000 }).toBe("No item or batch you may see has the serial or lot number \u201cNOPE-9\u201d.");
    expect(unexpected(w)).toEqual([]);
    // A plain serial is not an identifier: the page does not ask /resolve about it at all.
    expect(resolveAsked).toEqual([]);
    await w.page.context().close();
  });

  it("shows another member without a grant nothing", async () => {
    const w = await signedIn("steel");
    await searchFor(w, "PUMP-7");
    await expect.poll(() => w.page.getByRole("status").textContent(), { timeout: 20_000 }).toBe("No item or batch you may see has the serial or lot number \u201cPUMP-7\u201d.");
    expect(w.page.url()).toMatch(/#\/$/);
    await screenshot(w.page, "search-serial-none");
    await w.page.context().close();
  });
});
