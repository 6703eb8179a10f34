/**
 * An OEM traces an engine back three tiers in the explorer (real Chromium, real gateways, real
 * chain). Each member runs its own node: the steel mill, the foundry and the machining shop
 * capture their EPCIS events through their own gateways (commission, ship, receive, transform),
 * the OEM receives the shaft and assembles it into the engine, binding the tightening station's
 * torque readings, which its node ingests and anchors on DataAnchors. In the OEM's explorer:
 * every event of its own is verified by the page itself, the suppliers' records are on-chain
 * facts, the genealogy reaches the steel coil, the torque curve of the shaft's fastening is
 * verified reading by reading, the QR code decodes to the engine's Digital Link (which the
 * gateway resolves back to the page), and a document altered on the OEM node's disk shows as
 * altered.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Wallet, keccak256, toUtf8Bytes } from "ethers";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProposalKind, Role, proposalData } from "../../lib/consortium.ts";
import { canonicalIdentifier, itemKey } from "../../lib/identifiers/canonical.ts";
import type { Reading } from "../../lib/reading.ts";
import { AccessLog, AccessRecorder } from "../../node/access-log/index.ts";
import { Anchorer } from "../../node/chain/anchorer.ts";
import { AnchorChain, ChainClient } from "../../node/chain/client.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { IngestPipeline } from "../../node/ingest/pipeline.ts";
import { ProofService } from "../../node/ingest/proofs.ts";
import { IngestStore } from "../../node/ingest/store.ts";
import { Indexer } from "../../node/indexer/index.ts";
import { indexService } from "../../node/indexer/service.ts";
import type { OrgKey } from "../helpers/fixture.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";
import { EXPLORER_DIST, PHONE, SKIP_MESSAGE, type WatchedPage, decodeQr, hasChromium, launchBrowser, openPage, overflowsHorizontally, screenshot } from "./browser.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/epcis/", import.meta.url));
const SCHEMA = path.join(FIXTURES, "EPCIS-JSON-Schema.json");
const CONTEXT = path.join(FIXTURES, "epcis-context.jsonld");
const EPCIS_CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

const PGLN: Record<"steel" | "foundry" | "machining" | "oem", string> = {
  steel: "urn:epc:id:pgln:4012345.00000",
  foundry: "urn:epc:id:pgln:4012346.00000",
  machining: "urn:epc:id:pgln:4012347.00000",
  oem: "urn:epc:id:pgln:0614141.00000",
};
const COIL = "urn:epc:id:sgtin:4012345.011111.COIL-1";
const CAST = "urn:epc:id:sgtin:4012346.022222.CAST-1";
const SHAFT = "urn:epc:id:sgtin:4012347.033333.SHAFT-1";
const ENGINE = "urn:epc:id:sgtin:0614141.044444.ENGINE-1";
const TORQUE = "tightening-3/torque";

type Doc = Record<string, unknown>;
let clock = Date.parse("2026-11-20T06:00:00Z");
const at = () => new Date((clock += 3_600_000)).toISOString();
const doc = (...events: Doc[]): Doc => ({
  "@context": [EPCIS_CTX, { tm: "https://tracemesh.dev/ns/epcis/" }],
  type: "EPCISDocument",
  schemaVersion: "2.0",
  creationDate: new Date().toISOString(),
  epcisBody: { eventList: events.map((e) => ({ eventTime: at(), eventTimeZoneOffset: "+01:00", ...e })) },
});
const commission = (epc: string, site: string): Doc => ({
  type: "ObjectEvent",
  action: "ADD",
  bizStep: "commissioning",
  disposition: "active",
  epcList: [epc],
  readPoint: { id: `${site}.1` },
});
const ship = (epc: string, from: keyof typeof PGLN, to: keyof typeof PGLN): Doc => ({
  type: "ObjectEvent",
  action: "OBSERVE",
  bizStep: "shipping",
  disposition: "in_transit",
  epcList: [epc],
  sourceList: [{ type: "owning_party", source: PGLN[from] }],
  destinationList: [{ type: "owning_party", destination: PGLN[to] }],
});
const receive = (epc: string, site: string): Doc => ({
  type: "ObjectEvent",
  action: "OBSERVE",
  bizStep: "receiving",
  disposition: "in_progress",
  epcList: [epc],
  bizLocation: { id: `${site}.0` },
});
const transform = (input: string, output: string, site: string): Doc => ({
  type: "TransformationEvent",
  bizStep: "commissioning",
  disposition: "active",
  inputEPCList: [input],
  outputEPCList: [output],
  readPoint: { id: `${site}.2` },
});

interface Member {
  gw: TestGateway;
  events: OpenEvents;
  token: string;
}

describe.skipIf(!hasChromium)("tracing an engine in Chromium", () => {
  let chain: TestChain;
  let dir: string;
  let indexer: Indexer;
  let browser: Browser;
  let provider: JsonRpcProvider;
  const members = {} as Record<"steel" | "foundry" | "machining" | "oem", Member>;
  let accessLog: AccessLog;
  let ingest: { store: IngestStore; pipeline: IngestPipeline; anchorer: Anchorer } | undefined;
  const engineLink = canonicalIdentifier(ENGINE);

  async function captured(who: keyof typeof members, body: Doc): Promise<{ hashId: string }[]> {
    const m = members[who];
    const res = await m.gw.request("/capture", { method: "POST", token: m.token, body: JSON.stringify(body), headers: { "content-type": "application/ld+json" } });
    if (res.status !== 202) throw new Error(`capture at ${who}: ${res.status} ${await res.text()}`);
    const location = res.headers.get("location")!;
    for (let i = 0; i < 600; i++) {
      const job = (await (await m.gw.request(location, { token: m.token })).json()) as { running: boolean; success?: boolean; errors?: unknown[]; results?: { hashId: string }[] };
      if (!job.running) {
        if (job.success !== true) throw new Error(`capture at ${who} failed: ${JSON.stringify(job.errors)}`);
        return job.results ?? [];
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`capture at ${who} did not finish`);
  }

  beforeAll(async () => {
    if (!existsSync(EXPLORER_DIST)) throw new Error(`${EXPLORER_DIST} is missing: run npm run explorer:build (npm test builds it)`);
    chain = await startTestChain();
    dir = mkdtempSync(path.join(tmpdir(), "tm-explorer-trace-"));
    provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
    provider.pollingInterval = 50;
    indexer = await Indexer.open({ provider, deployment: chain.deployment, store: path.join(dir, "index") });
    const partyOf = new Map(Object.entries(PGLN).map(([org, pgln]) => [canonicalIdentifier(pgln), chain.orgs[org as OrgKey].id]));
    const client = new ChainClient(provider, { pollMs: 25 });
    for (const org of ["steel", "foundry", "machining", "oem"] as const) {
      // Each member's node signs with its organisation's last account.
      const signer = new Wallet(chain.orgs[org].accounts.at(-1)!.privateKey, provider);
      const events = await openEvents({
        dataDir: path.join(dir, org),
        deployment: chain.deployment,
        client,
        signer,
        validator: { schemaPath: SCHEMA },
        contexts: CONTEXT,
        resolveParty: (party) => partyOf.get(party),
        capture: { retryBaseMs: 50, retryMaxMs: 200 },
        // Genealogy grants are walked over the chain index; access decisions ask the chain.
        genealogy: indexService(indexer).queries,
      });
      const gw = await startTestGateway({
        chain,
        node: org,
        services: { events, ...(org === "oem" ? { index: indexService(indexer) } : {}) },
        gateway: { explorerDir: EXPLORER_DIST, rateLimit: false },
      });
      members[org] = { gw, events, token: await gw.signIn(org) };
    }
    accessLog = await AccessLog.open(path.join(dir, "steel-access-log"));
    members.steel.gw.services.accessLog = new AccessRecorder(accessLog, chain.orgs.steel.contracts.accessGrants);
    members.steel.gw.services.index = indexService(indexer);

    // The OEM's tightening station: 25 torque readings over one second, ingested and anchored.
    const oemNode = new Wallet(chain.orgs.oem.accounts.at(-1)!.privateKey, provider);
    const store = await IngestStore.open(path.join(dir, "oem-ingest"));
    const pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 9), { windowMs: 3_600_000 });
    const anchorer = new Anchorer(store, pipeline, await AnchorChain.create(client, chain.deployment.contracts.dataAnchors, oemNode), { retry: { minMs: 20, maxMs: 100 } });
    pipeline.on("window", () => anchorer.notify());
    await anchorer.start();
    ingest = { store, pipeline, anchorer };
    const t0 = Date.now();
    const torque = (i: number): Reading => ({ stream: TORQUE, metric: "torque", unit: "N.m", value: Math.round(85 * (1 - Math.exp(-i / 6)) * 10) / 10, sourceTime: t0 + i * 40, quality: "good" });
    await pipeline.write(Array.from({ length: 25 }, (_, i) => torque(i)));
    await pipeline.closeWindow();
    await anchorer.anchoredUpTo(1);
    members.oem.gw.services.proofs = new ProofService(store, oemNode.address);

    // Three tiers, each captured at its own gateway.
    await captured("steel", doc(commission(COIL, "urn:epc:id:sgln:4012345.00001"), ship(COIL, "steel", "foundry")));
    await captured("foundry", doc(receive(COIL, "urn:epc:id:sgln:4012346.00001"), transform(COIL, CAST, "urn:epc:id:sgln:4012346.00001"), ship(CAST, "foundry", "machining")));
    await captured("machining", doc(receive(CAST, "urn:epc:id:sgln:4012347.00001"), transform(CAST, SHAFT, "urn:epc:id:sgln:4012347.00001"), ship(SHAFT, "machining", "oem")));
    const iso = (ms: number) => new Date(ms).toISOString();
    await captured(
      "oem",
      doc(receive(SHAFT, "urn:epc:id:sgln:0614141.00001"), commission(ENGINE, "urn:epc:id:sgln:0614141.00001"), {
        type: "AggregationEvent",
        action: "ADD",
        bizStep: "assembling",
        parentID: ENGINE,
        childEPCs: [SHAFT],
        readPoint: { id: "urn:epc:id:sgln:0614141.00001.3" },
        "tm:readings": [{ "tm:stream": TORQUE, "tm:startTime": iso(t0), "tm:endTime": iso(t0 + 1000) }],
      }),
    );
    // Each supplier grants the OEM the engine with its genealogy, and its documents reach the
    // OEM's node as the peer network delivers them (verified against the chain on receipt).
    const far = Math.floor(Date.now() / 1000) + 86_400;
    for (const supplier of ["steel", "foundry", "machining"] as const) {
      const { contracts, id } = chain.orgs[supplier];
      await (await contracts.accessGrants.grantAccess(chain.orgs.oem.id, 1 /* ItemWithGenealogy */, itemKey(ENGINE), keccak256(toUtf8Bytes("QUALITY_CLAIM")), 0, 0, far)).wait();
      for (const e of await members[supplier].events.store.query({}, { perPage: 100, audience: `org:${id}`, filter: async () => true }).then((p) => p.events)) {
        await members.oem.events.store.putReceived({
          hashId: e.hashId,
          recordHash: e.recordHash,
          context: e.context,
          owner: e.owner,
          event: e.event,
          ...(e.eventID ? { eventID: e.eventID } : {}),
          origin: { kind: "received", peerId: `12D3KooW${supplier}`, org: id, grant: { scopeKey: itemKey(ENGINE) }, receivedAt: new Date().toISOString() },
        });
      }
    }
    // An open proposal with votes for the consortium page: the lab asks to be a regulator too.
    const proposer = chain.orgs.lab.contracts.consortium;
    await (await proposer.propose(ProposalKind.GrantRole, proposalData.grantRole(chain.orgs.lab.id, Role.Regulator))).wait();
    const proposalId = await proposer.proposalCount();
    await (await chain.orgs.auditor.contracts.consortium.vote(proposalId, false)).wait();
    await indexer.sync();
    browser = await launchBrowser();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    for (const m of Object.values(members)) {
      await m.gw.stop();
      await m.events.close();
    }
    if (ingest) {
      await ingest.anchorer.stop();
      await ingest.pipeline.stop();
      await ingest.store.close();
    }
    await indexer?.stop();
    await accessLog?.close();
    provider?.destroy();
    await chain?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The OEM's explorer, signed in through the page with the OEM's LOCAL DEMO key. */
  const oemPage = (viewport?: typeof PHONE) => signedIn("oem", "oem", viewport);

  /** Member `at`'s explorer, signed in through the page as `who` with its LOCAL DEMO key. */
  async function signedIn(at: keyof typeof members, who: OrgKey, viewport?: typeof PHONE): Promise<WatchedPage> {
    const w = await openPage(browser, members[at].gw.url, viewport);
    await w.page.goto(`${members[at].gw.url}/explorer/#/signin`);
    await w.page.getByLabel("Demo private key (printed by npm start)").fill(chain.orgs[who].signer.privateKey);
    await w.page.getByRole("button", { name: "Sign in with the demo key" }).click();
    await w.page.getByTestId("signed-in").waitFor();
    return w;
  }

  const badges = (w: WatchedPage) => w.page.locator(".timeline .event [data-badge]").evaluateAll((els) => els.map((e) => e.getAttribute("data-badge")));
  /**
   * Clicks an item in the genealogy list and waits until its page has replaced the one before:
   * the genealogy's root is then the clicked item, and the history shown is its own (until then
   * the previous item's events, with as many badges, may still be on screen).
   */
  async function openFromGraph(w: WatchedPage, key: string): Promise<void> {
    await w.page.locator(`.graph-list li[data-key="${key}"] a`).click();
    await w.page.locator(`.graph-list li[data-key="${key}"] strong`).waitFor({ timeout: 20_000 });
    await w.page.locator(".timeline .event").first().waitFor();
  }
  const settled = (w: WatchedPage, n: number) => expect.poll(async () => (await badges(w)).filter((b) => b !== "checking").length, { timeout: 20_000 }).toBe(n);

  it("shows the engine's history, each event verified by the page itself, and its genealogy back to the steel coil", async () => {
    const w = await oemPage();
    await w.page.goto(`${members.oem.gw.url}/explorer/#/item/${encodeURIComponent(engineLink)}`);
    await w.page.locator(".timeline .event").first().waitFor();
    await settled(w, 2);
    expect(await badges(w)).toEqual(["verified", "verified"]);
    const texts = await w.page.locator(".timeline .event .event-what").allTextContents();
    expect(texts[0]).toContain("created");
    expect(texts[1]).toContain("packed into");
    // Genealogy: engine <- shaft <- casting <- coil, three tiers back (it loads beside the history).
    await w.page.locator(".graph-list li").nth(3).waitFor();
    const listed = await w.page.locator(".graph-list li").evaluateAll((els) => els.map((e) => e.getAttribute("data-key")));
    expect(new Set(listed)).toEqual(new Set([ENGINE, SHAFT, CAST, COIL].map((e) => itemKey(e))));
    // cytoscape loads with the first graph, after the list: wait for it to draw.
    await expect.poll(() => w.page.getByTestId("genealogy-graph").locator("canvas").count(), { timeout: 15_000 }).toBeGreaterThan(0);
    await screenshot(w.page, "item-engine-desktop");
    expect(w.foreign).toEqual([]);
    expect(w.errors).toEqual([]);

    // Down the tiers: the suppliers granted the OEM the engine with its genealogy, so every
    // supplier step of the shaft and of the steel coil is readable and verified by the page.
    // (This test once expected the coil's steps all "withheld": that pinned the defect.)
    await openFromGraph(w, itemKey(SHAFT));
    await settled(w, 4);
    expect(await badges(w)).toEqual(["verified", "verified", "verified", "verified"]);
    await openFromGraph(w, itemKey(COIL));
    await settled(w, 4);
    expect(await badges(w)).toEqual(["verified", "verified", "verified", "verified"]);
    await w.page.context().close();
  });

  it("the steel mill sees who read its data and under which grant; the OEM cannot open the mill's log", async () => {
    // The OEM reads the coil's commissioning at the mill's gateway, under the mill's genealogy grant on the engine.
    const [commissioning] = (await members.steel.events.store.query({ bizStep: ["commissioning"] }, { perPage: 1, audience: "test", filter: async () => true })).events;
    const asOem = await members.steel.gw.signIn("oem");
    expect((await members.steel.gw.request(`/events/${encodeURIComponent(commissioning!.hashId)}`, { token: asOem })).status).toBe(200);
    // Then every steel event it may read, in one query: one answer, one entry naming them all.
    const page = await members.steel.gw.request("/events", { token: asOem });
    expect(page.status).toBe(200);
    const served = ((await page.json()) as { epcisBody: { queryResults: { resultsBody: { eventList: unknown[] } } } }).epcisBody.queryResults.resultsBody.eventList.length;
    expect(served).toBeGreaterThan(1);
    const w = await signedIn("steel", "steel");
    await w.page.getByRole("link", { name: "Who read our data" }).click();
    const row = w.page.locator(`[data-testid="access-log"] tr[data-reader="${chain.orgs.oem.id}"][data-reads="1"]`).first();
    await row.waitFor({ timeout: 20_000 });
    expect(await row.getAttribute("data-allowed-by")).toBe(`grant item-genealogy on ${itemKey(ENGINE)}`);
    expect(await row.textContent()).toContain("Atlas Motors");
    // The query's entry (newest, first): counted at a glance, each document listed when opened.
    const many = w.page.locator(`[data-testid="access-log"] tbody tr`).first();
    expect([await many.getAttribute("data-reader"), await many.getAttribute("data-reads")]).toEqual([String(chain.orgs.oem.id), String(served)]);
    expect(await many.textContent()).toContain(`${served} reads (documents: ${served})`);
    await many.locator("summary").click();
    expect(await many.locator("li").count()).toBe(served);
    expect(await many.locator("li").first().textContent()).toMatch(/^document /);
    expect(await w.page.getByTestId("access-log-check").getAttribute("data-ok")).toBe("true");
    await screenshot(w.page, "access-log-desktop");
    // On the commissioning step's own page, who read it: both entries, each showing only its read of this event.
    await w.page.goto(`${members.steel.gw.url}/explorer/#/readings/${encodeURIComponent(commissioning!.hashId)}`);
    const readers = w.page.getByTestId("readers").locator("tbody tr");
    await readers.first().waitFor({ timeout: 20_000 });
    const ofEvent = await accessLog.entries({ event: commissioning!.recordHash });
    expect(ofEvent.map((e) => e.reads.length > 1)).toEqual([false, true]);
    expect(await readers.count()).toBe(ofEvent.length);
    for (const r of await readers.all()) {
      expect(await r.getAttribute("data-reads")).toBe("1");
      expect(await r.locator("td").nth(1).textContent()).toMatch(/^document /);
    }
    expect(w.errors).toEqual([]);
    await w.page.context().close();
    const other = await signedIn("steel", "oem");
    await other.page.goto(`${members.steel.gw.url}/explorer/#/access-log`);
    await other.page.locator(".notice").first().waitFor();
    expect(await other.page.locator('[data-testid="access-log"]').count()).toBe(0);
    await other.page.context().close();
  });

  it("plots the torque curve of the shaft's fastening, every reading verified against its anchor on chain", async () => {
    const w = await oemPage();
    await w.page.goto(`${members.oem.gw.url}/explorer/#/item/${encodeURIComponent(engineLink)}`);
    await w.page.getByRole("link", { name: "Process data of this step" }).click();
    const stream = w.page.locator(`.stream[data-stream="${TORQUE}"]`);
    await stream.waitFor({ timeout: 20_000 });
    expect(await stream.getAttribute("data-verified")).toBe("25");
    expect(await stream.getAttribute("data-failed")).toBe("0");
    expect(await stream.getAttribute("data-gaps")).toBe("0");
    expect(await stream.getByRole("status").textContent()).toContain("25 of 25 readings verified against the chain");
    // uplot loads with the first chart: wait for it to draw.
    await expect.poll(() => stream.locator("canvas").count(), { timeout: 15_000 }).toBeGreaterThan(0);
    await screenshot(w.page, "readings-desktop");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
    const phone = await oemPage(PHONE);
    await phone.page.goto(`${members.oem.gw.url}/explorer/#/item/${encodeURIComponent(engineLink)}`);
    await phone.page.locator(".timeline .event").first().waitFor();
    await settled(phone, 2);
    expect(await overflowsHorizontally(phone.page)).toBe(false);
    await screenshot(phone.page, "item-engine-phone");
    await phone.page.getByRole("link", { name: "Process data of this step" }).click();
    await phone.page.locator(`.stream[data-stream="${TORQUE}"]`).waitFor({ timeout: 20_000 });
    expect(await overflowsHorizontally(phone.page)).toBe(false);
    await screenshot(phone.page, "readings-phone");
    await phone.page.context().close();
  });

  it("renders a QR code that decodes to the engine's Digital Link, which the gateway resolves back to the page", async () => {
    const w = await oemPage();
    await w.page.goto(`${members.oem.gw.url}/explorer/#/item/${encodeURIComponent(engineLink)}`);
    const img = w.page.locator(".qr img");
    await img.waitFor();
    const decoded = await decodeQr(browser, await img.screenshot());
    expect(decoded).toBe(engineLink.replace("https://id.gs1.org", members.oem.gw.url));
    const res = await fetch(decoded!, { redirect: "manual", headers: { accept: "text/html" } });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toContain("/explorer/#/item/");
    await w.page.context().close();
  });

  it("finds the engine from the search page by EPC URI, by GTIN and serial, and from a photo of its QR code", async () => {
    const w = await oemPage();
    const itemUrl = () => decodeURIComponent(w.page.url());
    await w.page.goto(`${members.oem.gw.url}/explorer/#/`);
    await w.page.getByLabel("Identifier", { exact: true }).fill(ENGINE);
    await w.page.getByRole("button", { name: "Search" }).first().click();
    await expect.poll(itemUrl, { timeout: 20_000 }).toContain(`#/item/${engineLink}`);
    await w.page.locator(".timeline .event").first().waitFor();

    await w.page.goto(`${members.oem.gw.url}/explorer/#/`);
    await w.page.getByLabel("GTIN").fill("00614141444441");
    await w.page.getByLabel("Serial (optional)").fill("ENGINE-1");
    await w.page.locator(".gtin-form button[type=submit]").click();
    await expect.poll(itemUrl, { timeout: 20_000 }).toContain(`#/item/${engineLink}`);

    // A photo of the printed QR code (a screenshot of the page's own), uploaded on the search page.
    const qr = await w.page.locator(".qr img").screenshot();
    await w.page.goto(`${members.oem.gw.url}/explorer/#/`);
    await w.page.getByLabel("Read a QR code from an image").setInputFiles({ name: "label.png", mimeType: "image/png", buffer: qr });
    await expect.poll(itemUrl, { timeout: 20_000 }).toContain(`#/item/${engineLink}`);

    // Nonsense is refused with the gateway's reason, in the page.
    await w.page.goto(`${members.oem.gw.url}/explorer/#/`);
    await w.page.getByLabel("Identifier", { exact: true }).fill("urn:epc:id:sgtin:123");
    await w.page.getByRole("button", { name: "Search" }).first().click();
    await w.page.locator(".error, .notice").first().waitFor();
    expect(w.page.url()).toMatch(/#\/$/);
    expect(w.errors.filter((e) => !e.includes("400"))).toEqual([]);
    await w.page.context().close();
  });

  it("lists the consortium's members and the open proposal with its votes", async () => {
    const w = await oemPage();
    await w.page.goto(`${members.oem.gw.url}/explorer/#/consortium`);
    const rows = w.page.locator("tbody tr");
    await rows.first().waitFor();
    expect(await rows.count()).toBe(8);
    expect(await w.page.getByRole("rowheader", { name: "Certa Test Lab" }).isVisible()).toBe(true);
    const card = w.page.locator(".cards .card");
    expect(await card.count()).toBe(1);
    expect(await card.textContent()).toContain("GrantRole");
    expect(await card.textContent()).toContain("Independent Auditors voted against");
    await screenshot(w.page, "consortium-desktop");
    const phone = await oemPage(PHONE);
    await phone.page.goto(`${members.oem.gw.url}/explorer/#/consortium`);
    await phone.page.locator("tbody tr").first().waitFor();
    await screenshot(phone.page, "consortium-phone");
    expect(await overflowsHorizontally(phone.page)).toBe(false);
    await phone.page.context().close();
    await w.page.context().close();
  });

  it("speaks Chinese on the item page after the switch", async () => {
    const w = await oemPage();
    await w.page.goto(`${members.oem.gw.url}/explorer/#/item/${encodeURIComponent(engineLink)}`);
    await settled(w, 2);
    await w.page.getByRole("button", { name: "中文" }).click();
    await expect.poll(() => w.page.locator(".badge-verified").first().textContent(), { timeout: 20_000 }).toContain("已核验");
    expect(await w.page.getByRole("heading", { name: "历史记录" }).isVisible()).toBe(true);
    expect(await w.page.locator(".timeline .event .event-what").first().textContent()).toContain("创建了");
    await screenshot(w.page, "item-engine-zh-desktop");
    await w.page.getByRole("button", { name: "EN" }).click();
    await w.page.context().close();
  });

  it("shows a document altered on the node's disk as altered", async () => {
    const store = members.oem.events.store;
    // The OEM's commissioning event of the engine, as stored, with its disposition changed.
    let changed = false;
    for await (const [k, v] of store.db.iterator({ gte: "ev\u0000", lt: "ev\u0000\uffff" })) {
      const stored = v as { event: Doc };
      if (stored.event.bizStep === "commissioning" && JSON.stringify(stored.event.epcList) === JSON.stringify([ENGINE])) {
        await store.db.put(k, { ...stored, event: { ...stored.event, disposition: "damaged" } });
        changed = true;
      }
    }
    expect(changed).toBe(true);
    // The gateway reuses an answer until the chain moves (gateway/answer-cache.ts); the store was
    // changed behind its back, so a new block lets the next answer read the altered document.
    await provider.send("evm_mine", []);
    await indexer.sync();
    const w = await oemPage();
    await w.page.goto(`${members.oem.gw.url}/explorer/#/item/${encodeURIComponent(engineLink)}`);
    await settled(w, 2);
    expect(await badges(w)).toEqual(["altered", "verified"]);
    expect(await w.page.locator(".badge-altered").getAttribute("title")).toContain("does not match the hash recorded on chain");
    await screenshot(w.page, "item-engine-altered-desktop");
    await w.page.context().close();
  });
});
