/**
 * EPCIS named queries, subscriptions and recall alerts end to end: a real anvil chain with the
 * consortium, the OEM's node (event store, chain index, subscription service on LevelDB), its
 * gateway on 127.0.0.1, real webhook receivers and a real WebSocket client on 127.0.0.1.
 *
 * Shows: named queries belong to their organisation (another member, anonymous and forged tokens
 * are refused); a streaming webhook delivery is signed (GS1-Signature, HMAC-SHA256) and carries
 * only what the subscriber may read (the steel mill, without a grant, receives nothing of the
 * OEM's); a failing receiver is retried with back-off and the subscription paused with the
 * reason; a recall at the steel mill reaches the OEM's webhook and WebSocket with the pump it
 * holds, and the mill with the billet it still holds, each without the other's items.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { type IncomingHttpHeaders, type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { JsonRpcProvider, Wallet, id as keccakId } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { batchKey, itemKey } from "../../lib/identifiers/canonical.ts";
import { ScopeKind } from "../../lib/registry.ts";
import { ChainClient } from "../../node/chain/client.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { Indexer } from "../../node/indexer/index.ts";
import { indexService } from "../../node/indexer/service.ts";
import { LIMITS, SubscriptionService } from "../../node/subscriptions/service.ts";
import { suspendOrg } from "../helpers/fixture.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";

const FIXTURES = path.resolve(import.meta.dirname, "../../../shared/fixtures/epcis");
const EPCIS_CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
const GTIN = "09521234543213";
const dl = (serial: string) => `https://id.gs1.org/01/${GTIN}/21/${serial}`;
const DISP_ACTIVE = keccakId("urn:epcglobal:cbv:disp:active");
type Doc = Record<string, unknown>;

/** A webhook receiver on 127.0.0.1 that records what it gets and answers `status`. */
interface Receiver {
  url: string;
  got: { body: string; headers: IncomingHttpHeaders }[];
  status: number;
  close(): Promise<void>;
}
async function receiver(status = 200): Promise<Receiver> {
  const r: Receiver = { url: "", got: [], status, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      r.got.push({ body: Buffer.concat(chunks).toString("utf8"), headers: req.headers });
      res.statusCode = r.status;
      res.end();
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  r.close = () => new Promise((done) => server.close(() => done()));
  return r;
}

const until = async (what: string, ok: () => boolean, ms = 30_000) => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((d) => setTimeout(d, 50))) if (ok()) return;
  throw new Error(`timed out waiting for ${what}`);
};
const results = (d: Doc) => (d["epcisBody"] as Doc)["queryResults"] as Doc;
const eventsOf = (d: Doc) => (results(d)["resultsBody"] as Doc)["eventList"] as Doc[];

let chain: TestChain;
let gw: TestGateway;
let events: OpenEvents;
let indexer: Indexer;
let subscriptions: SubscriptionService;
let dir: string;
const token: Record<string, string> = {};
let eventTime = Date.UTC(2025, 0, 1);

function doc(...evs: Doc[]): Doc {
  return {
    "@context": [EPCIS_CTX],
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate: new Date().toISOString(),
    epcisBody: { eventList: evs.map((e) => ({ eventTime: new Date((eventTime += 60_000)).toISOString(), eventTimeZoneOffset: "+00:00", ...e })) },
  };
}

async function capture(...bodies: Doc[]): Promise<void> {
  for (const body of bodies) await captureOne(body);
}

async function captureOne(body: Doc): Promise<void> {
  const res = await gw.request("/capture", { token: token["oem"], body: JSON.stringify(body), headers: { "content-type": "application/ld+json" } });
  expect(res.status, await res.clone().text()).toBe(202);
  const location = res.headers.get("location")!;
  for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((d) => setTimeout(d, 50))) {
    const job = (await (await gw.request(location, { token: token["oem"] })).json()) as { running: boolean; success: boolean; errors: unknown[] };
    if (!job.running) return void expect(job.errors).toEqual([]);
  }
  throw new Error("capture did not finish");
}

const post = (p: string, json: unknown, who = "oem") => gw.request(p, { token: token[who], json });

beforeAll(async () => {
  chain = await startTestChain();
  dir = mkdtempSync(path.join(tmpdir(), "tm-subs-"));
  const provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1 });
  provider.pollingInterval = 100;
  indexer = await Indexer.open({ provider, deployment: chain.deployment, store: path.join(dir, "index") });
  await indexer.sync();
  indexer.start();
  const index = indexService(indexer);
  events = await openEvents({
    dataDir: dir,
    deployment: chain.deployment,
    client: new ChainClient(provider, { pollMs: 25 }),
    signer: new Wallet(chain.orgs.oem.accounts[1]!.privateKey, provider),
    provider,
    validator: { schemaPath: path.join(FIXTURES, "EPCIS-JSON-Schema.json") },
    contexts: path.join(FIXTURES, "epcis-context.jsonld"),
    genealogy: index.queries,
    capture: { retryBaseMs: 50, retryMaxMs: 200 },
  });
  subscriptions = await SubscriptionService.open(path.join(dir, "subscriptions"), events.store, index.queries, {
    allowedDestinations: ["http://127.0.0.1:*"],
    maxAttempts: 3,
    backoff: { initialDelayMs: 50, maxDelayMs: 200 },
    timeoutMs: 2000,
    recallPollMs: 200,
    log: () => {},
  });
  gw = await startTestGateway({ chain, node: "oem", services: { events, index, subscriptions }, gateway: { rateLimit: false } });
  for (const who of ["oem", "steel", "foundry"] as const) token[who] = await gw.signIn(who);
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await subscriptions?.close();
  await indexer?.stop();
  await events?.close();
  await chain?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("named queries", () => {
  it("are created, listed, read and deleted by their organisation only", async () => {
    const created = await post("/queries", { name: "shipped", query: { EQ_bizStep: ["shipping", "receiving"], eventType: ["ObjectEvent"] } });
    expect(created.status, await created.clone().text()).toBe(201);
    expect(created.headers.get("location")).toBe("/queries/shipped");
    expect(await created.json()).toEqual({ name: "shipped", query: { EQ_bizStep: "shipping|receiving", eventType: "ObjectEvent" } });
    expect((await post("/queries", { name: "shipped", query: {} })).status).toBe(400);
    const bad = await post("/queries", { name: "bad", query: { EXISTS_errorDeclaration: "maybe" } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Doc)["detail"]).toMatch(/EXISTS_errorDeclaration/);

    const list = (await (await gw.request("/queries", { token: token["oem"] })).json()) as { name: string }[];
    expect(list.map((q) => q.name)).toEqual(["RecallAlerts", "shipped"]);
    // Another member sees neither the query nor its subscriptions; it cannot delete it.
    expect(((await (await gw.request("/queries", { token: token["steel"] })).json()) as { name: string }[]).map((q) => q.name)).toEqual(["RecallAlerts"]);
    expect((await gw.request("/queries/shipped", { token: token["steel"] })).status).toBe(404);
    expect((await gw.request("/queries/shipped/events", { token: token["steel"] })).status).toBe(404);
    expect((await gw.request("/queries/shipped/subscriptions", { token: token["steel"] })).status).toBe(404);
    expect((await gw.request("/queries/shipped", { method: "DELETE", token: token["steel"] })).status).toBe(404);
    // Anonymous and forged tokens are refused.
    expect((await gw.request("/queries/shipped")).status).toBe(401);
    expect((await gw.request("/queries/shipped", { token: token["oem"]!.slice(0, -4) + "AAAA" })).status).toBe(401);
    expect((await gw.request("/queries/RecallAlerts", { method: "DELETE", token: token["oem"] })).status).toBe(400);

    expect((await gw.request("/queries/shipped", { method: "DELETE", token: token["oem"] })).status).toBe(204);
    expect((await gw.request("/queries/shipped", { token: token["oem"] })).status).toBe(404);
  });

  it("are limited per organisation, so a hostile member cannot fill the node", async () => {
    for (let i = 0; i < LIMITS.queries; i++) expect((await post("/queries", { name: `flood-${i}`, query: {} }, "foundry")).status).toBe(201);
    const refused = await post("/queries", { name: "one-more", query: {} }, "foundry");
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as Doc)["detail"]).toMatch(/at most 100 named queries/);
    // Others are not affected.
    expect((await post("/queries", { name: "flood-0", query: {} }, "steel")).status).toBe(201);
    expect((await gw.request("/queries/flood-0", { method: "DELETE", token: token["steel"] })).status).toBe(204);
  }, 60_000);

  it("refuse webhooks to non-http(s) or unlisted destinations", async () => {
    expect((await post("/queries", { name: "all-oem", query: {} })).status).toBe(201);
    for (const dest of ["file:///etc/passwd", "gopher://127.0.0.1:70/", "http://10.0.0.1/hook", "http://user:pw@127.0.0.1:9/hook"]) {
      const r = await post("/queries/all-oem/subscriptions", { dest, stream: true });
      expect(r.status, dest).toBe(400);
      expect(((await r.json()) as Doc)["detail"]).toMatch(/dest/);
    }
    expect((await post("/queries/all-oem/subscriptions", { dest: "http://127.0.0.1:9/hook" })).status).toBe(400); // neither stream nor schedule
    expect((await post("/queries/all-oem/subscriptions", { dest: "http://127.0.0.1:9/hook", schedule: { minute: "61" } })).status).toBe(400);
  });
});

describe("subscriptions", () => {
  it("stream each new event, signed, to its organisation's webhook only when it may read it", async () => {
    const oemHook = await receiver();
    const steelHook = await receiver();
    try {
      const secret = "a-shared-secret-of-the-oem-erp";
      const sub = await post("/queries/all-oem/subscriptions", { dest: oemHook.url, signatureToken: secret, stream: true });
      expect(sub.status, await sub.clone().text()).toBe(201);
      const view = (await sub.json()) as Doc;
      expect(view).not.toHaveProperty("signatureToken");
      expect(view["signed"]).toBe(true);
      // The steel mill subscribes to the same query of its own: it has no grant on the OEM's items.
      expect((await post("/queries", { name: "everything", query: {} }, "steel")).status).toBe(201);
      expect((await post("/queries/everything/subscriptions", { dest: steelHook.url, stream: true }, "steel")).status).toBe(201);
      // Hostile: the mill cannot read or delete the OEM's subscription.
      const url = sub.headers.get("location")!;
      expect((await gw.request(url, { token: token["steel"] })).status).toBe(404);
      expect((await gw.request(url, { method: "DELETE", token: token["steel"] })).status).toBe(404);

      await capture(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "inspecting", epcList: [dl("OEM-OBS-1")] }));
      await until("the OEM's delivery", () => oemHook.got.length > 0);
      const { body, headers } = oemHook.got[0]!;
      expect(headers["gs1-signature"]).toBe(`sha256=${createHmac("sha256", secret).update(body).digest("hex")}`);
      const d = JSON.parse(body) as Doc;
      expect(results(d)["subscriptionID"]).toBe(view["subscriptionID"]);
      expect(eventsOf(d).map((e) => e["epcList"])).toEqual([[dl("OEM-OBS-1")]]);
      // Its delivery log says so; the mill's receiver heard nothing of the OEM's event.
      let logged: { deliveries: { ok: boolean; trigger: string; eventCount: number }[]; lastNotifiedAt?: string } = { deliveries: [] };
      for (const end = Date.now() + 10_000; logged.lastNotifiedAt === undefined && Date.now() < end; await new Promise((d) => setTimeout(d, 50)))
        logged = (await (await gw.request(url, { token: token["oem"] })).json()) as typeof logged;
      expect(logged.deliveries[0]).toMatchObject({ ok: true, trigger: "stream", eventCount: 1 });
      expect(logged.lastNotifiedAt).toBeDefined();
      await new Promise((d) => setTimeout(d, 1000));
      expect(steelHook.got).toEqual([]);
      // The named query answers the same events as a query.
      const page = (await (await gw.request("/queries/all-oem/events?perPage=5", { token: token["oem"] })).json()) as Doc;
      expect(eventsOf(page).length).toBeGreaterThanOrEqual(1);
      expect((await gw.request("/queries/all-oem/events?EQ_bizStep=x", { token: token["oem"] })).status).toBe(400);
      expect((await gw.request(url, { method: "DELETE", token: token["oem"] })).status).toBe(204);
    } finally {
      await oemHook.close();
      await steelHook.close();
    }
  }, 90_000);

  it("deliver another organisation's event to a subscriber once it holds a grant on the item, and only that event", async () => {
    const steelHook = await receiver();
    try {
      expect((await post("/queries/everything/subscriptions", { dest: steelHook.url, stream: true }, "steel")).status).toBe(201);
      const granted = dl("OEM-GRANTED-1");
      const expires = Math.floor(Date.now() / 1000) + 3600;
      await (await chain.orgs.oem.contracts.accessGrants.grantAccess(chain.orgs.steel.id, ScopeKind.Item, itemKey(granted), keccakId("quality-audit"), 0, 0, expires)).wait();
      await new Promise((d) => setTimeout(d, 1000));
      await capture(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "inspecting", epcList: [dl("OEM-NOT-GRANTED-1")] }), doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "inspecting", epcList: [granted] }));
      await until("the granted event", () => steelHook.got.length > 0);
      await new Promise((d) => setTimeout(d, 500));
      const delivered = steelHook.got.flatMap((g) => eventsOf(JSON.parse(g.body) as Doc).map((e) => e["epcList"]));
      expect(delivered).toEqual([[granted]]);
    } finally {
      await steelHook.close();
    }
  }, 90_000);

  it("retry a failing receiver with back-off, then pause the subscription and say why", async () => {
    const failing = await receiver(503);
    try {
      const sub = await post("/queries/all-oem/subscriptions", { dest: failing.url, stream: true });
      const url = sub.headers.get("location")!;
      await capture(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "inspecting", epcList: [dl("OEM-OBS-2")] }));
      await until("three attempts", () => failing.got.length >= 3);
      let view: { paused?: { reason: string }; deliveries: { attempt: number; ok: boolean; status?: number }[] } = { deliveries: [] };
      for (const end = Date.now() + 10_000; view.paused === undefined && Date.now() < end; await new Promise((d) => setTimeout(d, 100)))
        view = (await (await gw.request(url, { token: token["oem"] })).json()) as typeof view;
      expect(view.paused?.reason).toMatch(/3 attempts .* failed; the last: the receiver answered 503/);
      expect(view.deliveries.map((d) => [d.attempt, d.ok, d.status])).toEqual([
        [3, false, 503],
        [2, false, 503],
        [1, false, 503],
      ]);
      // Paused: nothing more is sent.
      await capture(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "inspecting", epcList: [dl("OEM-OBS-3")] }));
      await new Promise((d) => setTimeout(d, 800));
      expect(failing.got.length).toBe(3);
    } finally {
      await failing.close();
    }
  }, 90_000);
});

describe("scheduled and catching-up subscriptions", () => {
  it("a schedule reports at its times (empty reports when asked), with the events recorded since the last run", async () => {
    const hook = await receiver();
    try {
      const sub = await post("/queries/all-oem/subscriptions", { dest: hook.url, schedule: { second: "0-59" }, reportIfEmpty: true });
      expect(sub.status, await sub.clone().text()).toBe(201);
      await until("an empty report", () => hook.got.some((g) => eventsOf(JSON.parse(g.body) as Doc).length === 0));
      await capture(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "inspecting", epcList: [dl("OEM-SCHED-1")] }));
      await until("the scheduled report of the event", () => hook.got.some((g) => JSON.stringify(eventsOf(JSON.parse(g.body) as Doc)).includes("OEM-SCHED-1")));
      // Each run reports only what was recorded since the previous one: the event comes once.
      await new Promise((d) => setTimeout(d, 2500));
      expect(hook.got.filter((g) => g.body.includes("OEM-SCHED-1")).length).toBe(1);
      expect((await gw.request(sub.headers.get("location")!, { method: "DELETE", token: token["oem"] })).status).toBe(204);
    } finally {
      await hook.close();
    }
  }, 90_000);

  it("a WebSocket stream with an initialRecordTime first gets the events recorded since then", async () => {
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const ws = new WebSocket(`${gw.url.replace(/^http/, "ws")}/queries/all-oem/events?stream=true&initialRecordTime=${encodeURIComponent(since)}`, { headers: { authorization: `Bearer ${token["oem"]}` } });
    const got: Doc[] = [];
    ws.on("message", (m) => got.push(JSON.parse(String(m)) as Doc));
    try {
      await until("the catch-up", () => got.length > 0);
      expect(JSON.stringify(eventsOf(got[0]!))).toContain("OEM-OBS-1");
      // The mill's WebSocket on its own query gets none of the OEM's events.
      const steel = new WebSocket(`${gw.url.replace(/^http/, "ws")}/queries/everything/events?stream=true&initialRecordTime=${encodeURIComponent(since)}`, { headers: { authorization: `Bearer ${token["steel"]}` } });
      const steelGot: unknown[] = [];
      steel.on("message", (m) => steelGot.push(m));
      await new Promise<void>((ok) => steel.once("open", () => ok()));
      await capture(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "inspecting", epcList: [dl("OEM-WS-1")] }));
      await until("the streamed event", () => got.some((d) => JSON.stringify(eventsOf(d)).includes("OEM-WS-1")));
      await new Promise((d) => setTimeout(d, 500));
      steel.close();
      // It holds a grant on one OEM item (above): that event only.
      expect(steelGot.map(String).filter((m) => m.includes("OEM-WS-1") || m.includes("OEM-OBS-1"))).toEqual([]);
      // Bad terms are refused before the handshake.
      const bad = new WebSocket(`${gw.url.replace(/^http/, "ws")}/queries/all-oem/events?stream=true&minute=5`, { headers: { authorization: `Bearer ${token["oem"]}` } });
      expect(await new Promise((ok) => bad.once("unexpected-response", (_req, res) => ok(res.statusCode)))).toBe(400);
    } finally {
      ws.close();
    }
  }, 90_000);
});

describe("recall alerts", () => {
  it("reach every holder of a recalled heat's items, by webhook and WebSocket, each with what it holds", async () => {
    const heat = `https://id.gs1.org/01/${GTIN}/10/HEAT-77`;
    const billets = [dl("BILLET-77-1"), dl("BILLET-77-2")];
    const pump = dl("PUMP-77");
    const k = (x: string) => itemKey(x);
    const as = (o: "steel" | "oem") => chain.orgs[o].contracts.provenance;
    const done = async (tx: Promise<{ wait(): Promise<unknown> }>) => void (await (await tx).wait());
    // The mill melts the heat; one billet goes to the OEM, which builds it into a pump.
    await done(as("steel").commissionBatch(batchKey(heat), billets.map(k), DISP_ACTIVE, keccakId("melt-77")));
    await done(as("steel").ship([k(billets[0]!)], chain.orgs.oem.id, true, keccakId("ship-77")));
    await done(as("oem").receiveShipment([k(billets[0]!)], keccakId("receive-77")));
    await done(as("oem").commission(k(pump), DISP_ACTIVE, keccakId("pump-77")));
    await done(as("oem").assemble(k(pump), [k(billets[0]!)], keccakId("assemble-77")));
    // The OEM's node holds an event naming the pump (so the alert names it, not only its key).
    await capture(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "inspecting", epcList: [pump] }));

    const oemHook = await receiver();
    const steelHook = await receiver();
    const ws = new WebSocket(`${gw.url.replace(/^http/, "ws")}/queries/RecallAlerts/events?stream=true`, { headers: { authorization: `Bearer ${token["oem"]}` } });
    const wsGot: Doc[] = [];
    ws.on("message", (m) => wsGot.push(JSON.parse(String(m)) as Doc));
    try {
      await new Promise<void>((ok, fail) => (ws.once("open", () => ok()), ws.once("error", fail)));
      expect((await post("/queries/RecallAlerts/subscriptions", { dest: oemHook.url, stream: true })).status).toBe(201);
      expect((await post("/queries/RecallAlerts/subscriptions", { dest: steelHook.url, stream: true }, "steel")).status).toBe(201);
      // A WebSocket without a token is refused at the handshake.
      const anon = new WebSocket(`${gw.url.replace(/^http/, "ws")}/queries/RecallAlerts/events?stream=true`);
      expect(await new Promise((ok) => anon.once("unexpected-response", (_req, res) => ok(res.statusCode)))).toBe(401);

      const t0 = Date.now();
      await done(as("steel").recallBatch(batchKey(heat), keccakId("recall-77")));
      await until("the OEM's recall alert", () => oemHook.got.length > 0 && wsGot.length > 0 && steelHook.got.length > 0, 20_000);
      expect(Date.now() - t0).toBeLessThan(10_000);
      const alertOf = (d: Doc) => results(d)["tm:recallAlert"] as { recalled: string[]; recalledBy: number; affectedItems: { key: string; epc?: string }[] };
      const oemAlert = alertOf(JSON.parse(oemHook.got[0]!.body) as Doc);
      expect(oemAlert.recalled).toEqual([batchKey(heat)]);
      expect(oemAlert.recalledBy).toBe(chain.orgs.steel.id);
      // The OEM holds the pump and the billet inside it; not the billet still at the mill.
      expect(oemAlert.affectedItems.map((i) => i.key).sort()).toEqual([k(billets[0]!), k(pump)].sort());
      expect(oemAlert.affectedItems.find((i) => i.key === k(pump))?.epc).toBe(pump);
      expect(alertOf(wsGot[0]!).affectedItems.map((i) => i.key).sort()).toEqual([k(billets[0]!), k(pump)].sort());
      const steelAlert = alertOf(JSON.parse(steelHook.got[0]!.body) as Doc);
      expect(steelAlert.affectedItems.map((i) => i.key)).toEqual([k(billets[1]!)]);
    } finally {
      ws.close();
      await oemHook.close();
      await steelHook.close();
    }
  }, 120_000);
});

describe("membership", () => {
  it("a suspended organisation's subscriptions receive nothing more, recall alerts included", async () => {
    const steelHook = await receiver();
    try {
      expect((await post("/queries/RecallAlerts/subscriptions", { dest: steelHook.url, stream: true }, "steel")).status).toBe(201);
      // The mill melts another heat, is suspended, and the regulator recalls the heat.
      const heat = `https://id.gs1.org/01/${GTIN}/10/HEAT-78`;
      await (await chain.orgs.steel.contracts.provenance.commissionBatch(batchKey(heat), [itemKey(dl("BILLET-78-1"))], DISP_ACTIVE, keccakId("melt-78"))).wait();
      await suspendOrg(chain, "steel");
      const receipt = await (await chain.orgs.regulator.contracts.provenance.recallBatch(batchKey(heat), keccakId("recall-78"))).wait();
      expect(receipt?.status).toBe(1);
      const recordId = Number(await chain.orgs.regulator.contracts.provenance.recordCount());
      // The alert was considered (the watcher passed the record) and nothing was sent.
      for (const end = Date.now() + 20_000; ((await subscriptions.store.meta<number>("recallCursor")) ?? 0) < recordId && Date.now() < end; ) await new Promise((d) => setTimeout(d, 100));
      expect(await subscriptions.store.meta<number>("recallCursor")).toBeGreaterThanOrEqual(recordId);
      await new Promise((d) => setTimeout(d, 1000));
      expect(steelHook.got).toEqual([]);
    } finally {
      await steelHook.close();
    }
  }, 120_000);
});

describe("stopping", () => {
  it("the gateway stops with WebSocket subscribers still connected, closing their sockets", async () => {
    const ws = new WebSocket(`${gw.url.replace(/^http/, "ws")}/queries/RecallAlerts/events?stream=true`, { headers: { authorization: `Bearer ${token["oem"]}` } });
    await new Promise<void>((ok, fail) => (ws.once("open", () => ok()), ws.once("error", fail)));
    const closed = new Promise<void>((ok) => ws.once("close", () => ok()));
    await Promise.race([gw.server.close(), new Promise((_, fail) => setTimeout(() => fail(new Error("the gateway did not stop")), 10_000))]);
    await closed;
  }, 30_000);
});
