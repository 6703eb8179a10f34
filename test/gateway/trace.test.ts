/**
 * The traceability routes through a real gateway on 127.0.0.1, over a real chain index (LevelDB)
 * that follows anvil: items, history with access marking per caller, genealogy and recall scope,
 * certificates, anchors and the consortium; and the bad paths: no token, expired token, no or
 * revoked grant, malformed ids, unknown parameters, a node without an index.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { id } from "ethers";
import { ChainAccessChecker } from "../../lib/access.ts";
import { parseIdentifier } from "../../lib/identifiers/canonical.ts";
import { toEpcUri } from "../../lib/identifiers/epc-uri.ts";
import { eventHash as cbvEventHash } from "../../lib/epcis/event-hash.ts";
import { dispositionKey } from "../../lib/epcis/events.ts";
import { ScopeKind } from "../../lib/registry.ts";
import { ChainClient } from "../../node/chain/client.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { Indexer } from "../../node/indexer/index.ts";
import { AccessLog, type AccessLogEntry, AccessRecorder } from "../../node/access-log/index.ts";
import { indexService } from "../../node/indexer/service.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";
import { DISP_ACTIVE, dl, done, key, lot, lotKey, ORG_ID, playStory, PURPOSE, type StoryChain, type StoryKeys, storyOn } from "../helpers/story.ts";

/** GS1's EPCIS schema and context, installed for tests only (see lib/epcis/schema/README.md). */
const FIXTURES = path.resolve(import.meta.dirname, "../../../shared/fixtures/epcis");
let tc: TestChain;
let story: StoryChain;
let keys: StoryKeys;
let indexer: Indexer;
let gw: TestGateway;
let dir: string;
let events: OpenEvents;
let accessLog: AccessLog;
let now = Date.now();
const tokens: Record<string, string> = {};

beforeAll(async () => {
  tc = await startTestChain();
  story = storyOn(tc);
  keys = await playStory(story);
  dir = mkdtempSync(path.join(tmpdir(), "tm-trace-"));
  indexer = await Indexer.open({ provider: story.provider, deployment: tc.deployment, store: dir });
  await indexer.sync();
  events = await openEvents({
    dataDir: dir,
    deployment: tc.deployment,
    client: new ChainClient(story.provider),
    signer: tc.orgs.oem.signer,
    provider: story.provider,
    validator: { schemaPath: path.join(FIXTURES, "EPCIS-JSON-Schema.json") },
    contexts: path.join(FIXTURES, "epcis-context.jsonld"),
    // Access decisions ask the chain (a revocation bites before the index sees it); genealogy
    // grants are walked over the same index the routes use.
    access: new ChainAccessChecker(tc.deployment.contracts, story.provider, { ttlMs: 0 }),
    genealogy: indexService(indexer).queries,
  });
  accessLog = await AccessLog.open(path.join(dir, "access-log"));
  gw = await startTestGateway({
    chain: tc,
    node: "oem",
    services: { index: indexService(indexer), events, accessLog: new AccessRecorder(accessLog, story.view.accessGrants) },
    gateway: { clock: () => now, rateLimit: false },
  });
  for (const org of ["oem", "lab", "steel", "foundry", "auditor", "regulator"] as const) tokens[org] = await gw.signIn(org);
});

afterAll(async () => {
  await gw?.stop();
  await indexer?.stop();
  await events?.close();
  await accessLog?.close();
  await story?.stop();
  await tc?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const enc = encodeURIComponent;
const get = async (p: string, token?: string) => {
  const res = await gw.request(p, { token });
  const body = (await res.json()) as Record<string, unknown> & { detail?: string };
  return { status: res.status, body, type: res.headers.get("content-type") ?? "" };
};
type Entry = { kind: string; org: { id: number }; access: string; document: unknown; grant?: unknown };

describe("traceability routes", () => {
  it("GET /items/{id} by Digital Link, EPC URI and key, with resolved owner and custodian", async () => {
    const byDl = await get(`/items/${enc(dl("ENGINE-1"))}`, tokens.oem);
    expect(byDl.status).toBe(200);
    expect(byDl.body).toMatchObject({ kind: "item", key: key("ENGINE-1"), digitalLink: dl("ENGINE-1"), status: "active", owner: { id: ORG_ID.oem, name: "Atlas Motors" }, recalled: false });
    // The shaft travels with the engine it was assembled into.
    const shaft = await get(`/items/${key("SHAFT-1")}`, tokens.lab);
    expect(shaft.body).toMatchObject({ status: "assembled", parent: key("ENGINE-1"), owner: { id: ORG_ID.oem }, custodian: { id: ORG_ID.oem } });
    const epc = toEpcUri(parseIdentifier(dl("COIL-3")), 7);
    const coil = await get(`/items/${enc(epc)}`, tokens.auditor);
    expect(coil.body).toMatchObject({ key: key("COIL-3"), batchKey: lotKey("LOT-A"), recalled: true, owner: { name: "Northern Steel Mill" } });
    const batch = await get(`/items/${enc(lot("LOT-A"))}`, tokens.oem);
    expect(batch.body).toMatchObject({ kind: "batch", key: lotKey("LOT-A"), itemCount: 3, recalled: true });
  });

  it("GET /items/{id}/history marks each record own, granted or public fact for the caller", async () => {
    const asOem = await get(`/items/${enc(dl("ENGINE-1"))}/history`, tokens.oem);
    expect(asOem.status).toBe(200);
    const entries = asOem.body.entries as Entry[];
    expect(entries.map((e) => e.kind)).toEqual(["commission", "assemble", "disassemble", "inspect", "disposition"]);
    expect(entries.map((e) => e.access)).toEqual(["own", "own", "own", "public-fact", "own"]);
    // This node holds none of these events' documents (the story recorded hashes only).
    expect(asOem.body.documents).toBe("available");
    expect(entries.every((e) => e.document === null)).toBe(true);
    // The lab holds the OEM's grant on the engine with its genealogy: the OEM's records of the shaft are granted to it, the machining shop's are not.
    // The assembly also names the sensor, which had left the engine before the grant: a document
    // is readable only where every item it names is, so that one stays a public fact.
    const asLab = (await get(`/items/${key("SHAFT-1")}/history`, tokens.lab)).body.entries as Entry[];
    expect(asLab.map((e) => [e.kind, e.org.id, e.access])).toEqual([
      ["transform", ORG_ID.machining, "public-fact"],
      ["ship", ORG_ID.machining, "public-fact"],
      ["receive", ORG_ID.oem, "granted"],
      ["assemble", ORG_ID.oem, "public-fact"],
    ]);
    expect(asLab[2]!.grant).toMatchObject({ scopeKey: key("ENGINE-1"), kind: 1 });
    // The foundry has no grant from anyone.
    const asFoundry = (await get(`/items/${key("SHAFT-1")}/history`, tokens.foundry)).body.entries as Entry[];
    expect(asFoundry.every((e) => e.access === "public-fact")).toBe(true);
    // Paging.
    const page = await get(`/items/${enc(dl("ENGINE-1"))}/history?limit=2`, tokens.oem);
    expect((page.body.entries as Entry[]).length).toBe(2);
    const rest = await get(`/items/${enc(dl("ENGINE-1"))}/history?limit=10&after=${page.body.nextAfter as number}`, tokens.oem);
    expect((rest.body.entries as Entry[]).map((e) => e.kind)).toEqual(["disassemble", "inspect", "disposition"]);
  });

  it("history carries the EPCIS document, verified against the chain, for its owner and grantees only", async () => {
    // The OEM's node holds the commissioning event of DOC-1, and the chain holds its CBV 2.0 hash.
    const context = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"];
    const event = {
      type: "ObjectEvent",
      eventTime: "2026-11-30T01:00:00.000Z",
      eventTimeZoneOffset: "+00:00",
      epcList: [dl("DOC-1")],
      action: "ADD",
      bizStep: "commissioning",
      disposition: "active",
    };
    const h = cbvEventHash(event, { context });
    await events.store.putOwn([{ hashId: h.hashId, recordHash: h.digest, context, owner: ORG_ID.oem, origin: { kind: "own", captureId: "test" }, event }]);
    await done(story.as.oem.provenance.commission(key("DOC-1"), DISP_ACTIVE, h.digest));
    await indexer.sync();
    const own = await get(`/items/${enc(dl("DOC-1"))}/history`, tokens.oem);
    expect(own.body.documents).toBe("available");
    expect(own.body.entries).toMatchObject([{ kind: "commission", access: "own", eventId: h.hashId, verified: true, document: { ...event, eventID: h.hashId } }]);
    // The foundry sees the fact but not the document, until the OEM grants it the item.
    const before = await get(`/items/${enc(dl("DOC-1"))}/history`, tokens.foundry);
    expect(before.body.entries).toMatchObject([{ access: "public-fact", document: null, eventId: null }]);
    const far = Math.floor(Date.now() / 1000) + 86_400;
    await done(story.as.oem.accessGrants.grantAccess(ORG_ID.foundry, ScopeKind.Item, key("DOC-1"), PURPOSE, 0, 0, far));
    await indexer.sync();
    const granted = await get(`/items/${enc(dl("DOC-1"))}/history`, tokens.foundry);
    expect(granted.body.entries).toMatchObject([{ access: "granted", verified: true, document: { epcList: [dl("DOC-1")] } }]);
    // A document altered on the node's disk no longer verifies against the chain.
    const [stored] = await events.store.get(h.digest);
    const sidKey = (await events.store.db.keys().all()).find((k) => k.endsWith(stored!.sid) && k.startsWith("ev"))!;
    await events.store.db.put(sidKey, { ...stored!, event: { ...event, disposition: "in_progress" } });
    const after = await get(`/items/${enc(dl("DOC-1"))}/history`, tokens.oem);
    expect(after.body.entries).toMatchObject([{ verified: false, document: { disposition: "in_progress" } }]);
  });

  const CONTEXT = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"];
  /** An ObjectEvent document about `epcs`, stored at this node as `owner`'s (received from its node when not the OEM's). */
  async function storeDocument(owner: number, label: string, epcs: string[], extra: Record<string, unknown> = {}) {
    const event = { type: "ObjectEvent", eventTime: "2026-11-30T02:00:00.000Z", eventTimeZoneOffset: "+00:00", epcList: epcs, action: "OBSERVE", bizStep: "inspecting", ...extra, "example:note": label };
    const h = cbvEventHash(event, { context: CONTEXT });
    const base = { hashId: h.hashId, recordHash: h.digest, context: CONTEXT, owner, event };
    if (owner === ORG_ID.oem) await events.store.putOwn([{ ...base, origin: { kind: "own", captureId: label } }]);
    else await events.store.putReceived({ ...base, origin: { kind: "received", peerId: "12D3KooWtest", org: owner, grant: { scopeKey: key("ENGINE-1") }, receivedAt: new Date().toISOString() } });
    return h;
  }
  const far = () => Math.floor(Date.now() / 1000) + 86_400;

  it("a document is withheld unless the caller may read every item it names, on history and /events alike", async () => {
    // The OEM grants the foundry item A only; its document names A and B and a private field.
    await done(story.as.oem.provenance.commission(key("PAIR-A"), DISP_ACTIVE, cbvEventHash({ type: "ObjectEvent", eventTime: "2026-11-30T01:30:00.000Z", eventTimeZoneOffset: "+00:00", epcList: [dl("PAIR-A")], action: "ADD" }, { context: CONTEXT }).digest));
    await done(story.as.oem.provenance.commission(key("PAIR-B"), DISP_ACTIVE, cbvEventHash({ type: "ObjectEvent", eventTime: "2026-11-30T01:30:00.000Z", eventTimeZoneOffset: "+00:00", epcList: [dl("PAIR-B")], action: "ADD" }, { context: CONTEXT }).digest));
    const both = await storeDocument(ORG_ID.oem, "private-margin-12%", [dl("PAIR-A"), dl("PAIR-B")]);
    await done(story.as.oem.provenance.observe([key("PAIR-A"), key("PAIR-B")], both.digest));
    await done(story.as.oem.accessGrants.grantAccess(ORG_ID.foundry, ScopeKind.Item, key("PAIR-A"), PURPOSE, 0, 0, far()));
    await indexer.sync();
    const history = (await get(`/items/${key("PAIR-A")}/history`, tokens.foundry)).body.entries as Entry[];
    expect(history.map((e) => [e.kind, e.access, e.document])).toEqual([
      ["commission", "granted", null],
      ["observation", "public-fact", null],
    ]);
    expect((await get(`/events/${enc(both.hashId)}`, tokens.foundry)).status).toBe(404);
    // With B granted too, both routes hand the document out.
    await done(story.as.oem.accessGrants.grantAccess(ORG_ID.foundry, ScopeKind.Item, key("PAIR-B"), PURPOSE, 0, 0, far()));
    await indexer.sync();
    const after = (await get(`/items/${key("PAIR-A")}/history`, tokens.foundry)).body.entries as Entry[];
    expect(after[1]).toMatchObject({ access: "granted", document: { "example:note": "private-margin-12%" } });
    expect((await get(`/events/${enc(both.hashId)}`, tokens.foundry)).status).toBe(200);
  });

  it("a competitor's record of the OEM's event hash, on the competitor's own item, never gets the OEM's document (issue 12)", async () => {
    const owned = await storeDocument(ORG_ID.oem, "squat-target", [dl("SQ-OWN")]);
    await done(story.as.oem.provenance.commission(key("SQ-OWN"), DISP_ACTIVE, owned.digest));
    // The steel mill records the same hash through a disposition change of a part it owns.
    await done(story.as.steel.provenance.commission(key("SQ-STEEL"), DISP_ACTIVE, id("squatter's commissioning")));
    await done(story.as.steel.provenance.setDisposition([key("SQ-STEEL")], dispositionKey("damaged"), owned.digest));
    await indexer.sync();
    for (const caller of ["steel", "oem"] as const) {
      const entries = (await get(`/items/${key("SQ-STEEL")}/history`, tokens[caller])).body.entries as Entry[];
      expect(entries.map((e) => [e.kind, e.org.id, e.document]), caller).toEqual([
        ["commission", ORG_ID.steel, null],
        ["disposition", ORG_ID.steel, null],
      ]);
    }
    // The OEM's own item still carries its document.
    const own = (await get(`/items/${key("SQ-OWN")}/history`, tokens.oem)).body.entries as Entry[];
    expect(own).toMatchObject([{ kind: "commission", access: "own", document: { "example:note": "squat-target" } }]);
  });

  it("a genealogy grant reaches the components transitively, through history and /events, and a grantee's later assembly does not widen it", async () => {
    // The machining shop's documents about the shaft and the casting it came from.
    const onShaft = await storeDocument(ORG_ID.machining, "shaft-check", [dl("SHAFT-1")]);
    const onCasting = await storeDocument(ORG_ID.machining, "casting-check", [dl("CAST-1")]);
    // The OEM registers an item under an identifier of the machining shop's choosing, for which the shop holds a document.
    const onStolen = await storeDocument(ORG_ID.machining, "stolen-check", [dl("STOLEN-1")]);
    await done(story.as.oem.provenance.commission(key("STOLEN-1"), DISP_ACTIVE, id("event:stolen")));
    expect((await get(`/events/${enc(onShaft.hashId)}`, tokens.oem)).status).toBe(404);
    await done(story.as.machining.accessGrants.grantAccess(ORG_ID.oem, ScopeKind.ItemWithGenealogy, key("ENGINE-1"), PURPOSE, 0, 0, far()));
    // After the grant, the OEM (the grantee) assembles that item into the engine.
    await done(story.as.oem.provenance.assemble(key("ENGINE-1"), [key("STOLEN-1")], id("event:assemble-stolen")));
    await indexer.sync();
    for (const h of [onShaft, onCasting]) expect((await get(`/events/${enc(h.hashId)}`, tokens.oem)).status, h.hashId).toBe(200);
    expect((await get(`/events/${enc(onStolen.hashId)}`, tokens.oem)).status).toBe(404);
    // History: the shop's records of the casting are granted through engine > shaft > casting.
    const cast = (await get(`/items/${key("CAST-1")}/history`, tokens.oem)).body.entries as (Entry & { grant?: { path?: string[] } })[];
    const receipt = cast.find((e) => e.kind === "receive" && e.org.id === ORG_ID.machining)!;
    expect(receipt).toMatchObject({ access: "granted", grant: { scopeKey: key("ENGINE-1"), kind: ScopeKind.ItemWithGenealogy, path: [key("ENGINE-1"), key("SHAFT-1"), key("CAST-1")] } });
    // The foundry's records stay withheld: the shop's grant covers the shop's data only.
    expect(cast.filter((e) => e.org.id === ORG_ID.foundry).every((e) => e.access === "public-fact")).toBe(true);
    await done(story.as.oem.provenance.disassemble(key("ENGINE-1"), [key("STOLEN-1")], id("event:disassemble-stolen")));
    await indexer.sync();
  });

  it("a regulator reads recall, inspection and disposition events and the documents of items in a recall scope, nothing else", async () => {
    const engine = (await get(`/items/${key("ENGINE-1")}/history`, tokens.regulator)).body.entries as (Entry & { rule?: string })[];
    const byKind = Object.fromEntries(engine.map((e) => [e.kind, e.rule]));
    // The engine holds the shaft made from coil 1 of the recalled lot A: all of it is in the recall scope.
    expect(byKind).toMatchObject({ inspect: "regulator-inspection-events", disposition: "regulator-disposition-events", commission: "regulator-recall-scope-items" });
    const ingot = (await get(`/items/${key("INGOT-9")}/history`, tokens.regulator)).body.entries as (Entry & { rule?: string })[];
    expect(ingot.find((e) => e.kind === "recall")).toMatchObject({ access: "granted", rule: "regulator-recall-events" });
    // The sensor left the engine before the recall reached it: its commissioning stays the OEM's.
    const sensor = (await get(`/items/${key("SENSOR-1")}/history`, tokens.regulator)).body.entries as Entry[];
    expect(sensor.find((e) => e.kind === "commission")).toMatchObject({ access: "public-fact" });
    // The rule is the regulator's alone: the auditor sees the same inspection as a public fact.
    const asAuditor = (await get(`/items/${key("ENGINE-1")}/history`, tokens.auditor)).body.entries as Entry[];
    expect(asAuditor.find((e) => e.kind === "inspect")).toMatchObject({ access: "public-fact" });
  });

  it("the owner's access log holds every document handed to a partner, with grant or rule, purpose and time; no one else reads it", async () => {
    const before = (await accessLog.head()).seq;
    const doc = await storeDocument(ORG_ID.oem, "logged-read", [dl("PAIR-A")]);
    expect((await get(`/events/${enc(doc.hashId)}`, tokens.foundry)).status).toBe(200);
    // The OEM reading its own document is not a partner's read.
    expect((await get(`/events/${enc(doc.hashId)}`, tokens.oem)).status).toBe(200);
    // The regulator reads the OEM's inspection of ENGINE-1 (history, by the consortium's rule)... not held here: nothing handed out, nothing logged.
    await get(`/items/${key("ENGINE-1")}/history`, tokens.regulator);
    const log = await get(`/access-log?after=${before}`, tokens.oem);
    expect(log.status).toBe(200);
    const entries = log.body.entries as AccessLogEntry[];
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      v: 2,
      reader: ORG_ID.foundry,
      owner: ORG_ID.oem,
      channel: "gateway",
      reads: [{ subject: { kind: "document", eventHash: doc.digest }, allowedBy: `grant item on ${key("PAIR-A")}`, grant: { kind: "item", scopeKey: key("PAIR-A") }, purpose: PURPOSE }],
    });
    expect(entries[0]!.reads).toHaveLength(1);
    expect(Date.parse(entries[0]!.time)).toBeGreaterThan(Date.now() - 60_000);
    const head = await get("/access-log/head", tokens.oem);
    expect(head.body).toMatchObject({ check: { ok: true }, head: { seq: before + 1 } });
    // Who read one event: only the reads of that event's document or readings.
    expect(((await get(`/access-log?event=${doc.digest}`, tokens.oem)).body.entries as { seq: number }[]).map((e) => e.seq)).toContain(before + 1);
    expect((await get(`/access-log?event=0x${"ab".repeat(32)}`, tokens.oem)).body.entries).toEqual([]);
    const bad = await get("/access-log?event=coil-3", tokens.oem);
    expect([bad.status, bad.body.detail]).toEqual([400, 'query parameter `event` must be one event record hash (0x and 64 hex digits), got "coil-3"']);
    // Another member, even the reader itself, and an anonymous caller cannot read it.
    for (const who of ["foundry", "regulator"] as const) {
      expect((await get("/access-log", tokens[who])).status, who).toBe(403);
      expect((await get("/access-log/head", tokens[who])).status, who).toBe(403);
    }
    expect((await get("/access-log")).status).toBe(401);
    expect((await get("/access-log", "forged.token.value")).status).toBe(401);
  });

  it("one answer is one access-log entry naming every document it handed out and none it withheld, each time it is served", async () => {
    await done(story.as.oem.provenance.commission(key("LOG-1"), DISP_ACTIVE, (await storeDocument(ORG_ID.oem, "log-1 made", [dl("LOG-1")])).digest));
    await done(story.as.oem.provenance.commission(key("LOG-2"), DISP_ACTIVE, (await storeDocument(ORG_ID.oem, "log-2 made", [dl("LOG-2")])).digest));
    const seen = await storeDocument(ORG_ID.oem, "log-1 seen", [dl("LOG-1")]);
    await done(story.as.oem.provenance.observe([key("LOG-1")], seen.digest));
    // Names LOG-2 too, which the foundry holds no grant on: withheld, and not in the log.
    const pair = await storeDocument(ORG_ID.oem, "log pair", [dl("LOG-1"), dl("LOG-2")]);
    await done(story.as.oem.provenance.observe([key("LOG-1"), key("LOG-2")], pair.digest));
    const again = await storeDocument(ORG_ID.oem, "log-1 seen again", [dl("LOG-1")]);
    await done(story.as.oem.provenance.observe([key("LOG-1")], again.digest));
    await done(story.as.oem.accessGrants.grantAccess(ORG_ID.foundry, ScopeKind.Item, key("LOG-1"), PURPOSE, 0, 0, far()));
    await indexer.sync();
    const made = (await get(`/items/${key("LOG-1")}/history`, tokens.oem)).body.entries as { eventHash: string }[];

    const before = (await accessLog.head()).seq;
    const history = (await get(`/items/${key("LOG-1")}/history`, tokens.foundry)).body.entries as (Entry & { eventHash: string })[];
    expect(history.map((e) => [e.kind, e.access, e.document !== null])).toEqual([
      ["commission", "granted", true],
      ["observation", "granted", true],
      ["observation", "public-fact", false],
      ["observation", "granted", true],
    ]);
    const served = [made[0]!.eventHash, seen.digest, again.digest];
    const logged = async () => (await accessLog.entries({ after: before, limit: 100 })).filter((e) => e.reader === ORG_ID.foundry);
    const [entry, ...more] = await logged();
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ v: 2, owner: ORG_ID.oem, channel: "gateway" });
    expect(entry!.reads.map((r) => (r.subject.kind === "document" ? r.subject.eventHash : r.subject.kind))).toEqual(served);
    expect(entry!.reads.every((r) => r.allowedBy === `grant item on ${key("LOG-1")}` && r.purpose === PURPOSE)).toBe(true);

    // Served again (kept or built anew): one more entry, the same reads.
    await get(`/items/${key("LOG-1")}/history`, tokens.foundry);
    const twice = await logged();
    expect(twice.map((e) => e.reads)).toEqual([entry!.reads, entry!.reads]);
    expect(twice[1]!.prev).toBe(twice[0]!.hash);
    // A query page is one answer too: one entry for the documents of the page the foundry may read.
    const page = await gw.request(`/events?MATCH_anyEPC=${enc(dl("LOG-1"))}`, { token: tokens.foundry });
    expect(page.status).toBe(200);
    const pageEntries = (await logged()).slice(2);
    expect(pageEntries).toHaveLength(1);
    expect(new Set(pageEntries[0]!.reads.map((r) => (r.subject.kind === "document" ? r.subject.eventHash : "")))).toEqual(new Set(served));
    expect(await accessLog.verify()).toMatchObject({ ok: true });
  });

  it("a revoked grant stops covering: the ingot (revoked in the story) and the engine (revoked now)", async () => {
    const ingot = (await get(`/items/${key("INGOT-9")}/history`, tokens.oem)).body.entries as Entry[];
    expect(ingot.map((e) => e.access)).toEqual(["public-fact", "public-fact", "public-fact"]);
    // The batch grant on lot A still covers coil 3 for the OEM.
    const coil = (await get(`/items/${key("COIL-3")}/history`, tokens.oem)).body.entries as Entry[];
    expect(coil[0]).toMatchObject({ kind: "commission", access: "granted" });
    await done(story.as.oem.accessGrants.revokeAccess(keys.grants[0]!));
    await indexer.sync();
    const asLab = (await get(`/items/${key("SHAFT-1")}/history`, tokens.lab)).body.entries as Entry[];
    expect(asLab.map((e) => e.access)).toEqual(["public-fact", "public-fact", "public-fact", "public-fact"]);
  });

  it("GET /items/{id}/genealogy backward, forward and both, with the recall scope", async () => {
    const back = await get(`/items/${enc(dl("ENGINE-1"))}/genealogy?direction=backward`, tokens.foundry);
    expect(back.status).toBe(200);
    const nodes = back.body.nodes as { key: string; depth: number; owner: { id: number } }[];
    expect(new Set(nodes.map((n) => n.key))).toEqual(new Set(["ENGINE-1", "SHAFT-1", "CAST-1", "COIL-1"].map(key)));
    expect((back.body.edges as { kind: string }[]).map((e) => e.kind).sort()).toEqual(["assembly", "transformation", "transformation"]);
    const fwd = await get(`/items/${key("COIL-1")}/genealogy?direction=forward&depth=2`, tokens.foundry);
    expect(new Set((fwd.body.nodes as { key: string }[]).map((n) => n.key))).toEqual(new Set(["COIL-1", "CAST-1", "CAST-2", "SHAFT-1"].map(key)));
    expect(fwd.body.recallScope as string[]).toContain(key("ENGINE-1"));
    const scope = await get(`/items/${enc(lot("LOT-A"))}/genealogy`, tokens.oem);
    expect(new Set(scope.body.recallScope as string[])).toEqual(new Set(["COIL-1", "COIL-2", "COIL-3", "CAST-1", "CAST-2", "SHAFT-1", "ENGINE-1"].map(key)));
    const capped = await get(`/items/${key("COIL-1")}/genealogy?direction=both&limit=2`, tokens.oem);
    expect(capped.body).toMatchObject({ truncated: true });
  });

  it("GET /items/{id}/certificates: the item's and its batch's, with status history", async () => {
    const engine = await get(`/items/${enc(dl("ENGINE-1"))}/certificates`, tokens.oem);
    expect(engine.status).toBe(200);
    const certs = engine.body as unknown as { state: string; issuer: { name: string }; history: { action: string }[]; supersededBy?: string; accreditedAtIssuance: boolean }[];
    expect(certs.map((c) => c.state)).toEqual(["superseded", "valid"]);
    expect(certs[0]!.history.map((h) => h.action)).toEqual(["issued", "suspended", "reinstated", "superseded"]);
    expect(certs[0]!.supersededBy).toBe(keys.certificates[2]);
    expect(certs[1]).toMatchObject({ issuer: { name: "Certa Test Lab" }, accreditedAtIssuance: true });
    const coil = (await get(`/items/${key("COIL-3")}/certificates`, tokens.oem)).body as unknown as { id: string }[];
    expect(coil.map((c) => c.id)).toEqual([keys.certificates[0]]);
    const shaft = (await get(`/items/${key("SHAFT-1")}/certificates`, tokens.oem)).body as unknown as { state: string; reason: number }[];
    expect(shaft).toMatchObject([{ state: "revoked", reason: 2 }]);
  });

  it("GET /anchors/{node}/{sequence} and GET /consortium", async () => {
    const a = await get(`/anchors/${story.nodeAccount}/2`, tokens.auditor);
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ sequence: 2, leafCount: 7, org: { id: ORG_ID.steel } });
    const first = await get(`/anchors/${story.nodeAccount.toLowerCase()}/1`, tokens.auditor);
    expect(a.body.previousRoot).toBe(first.body.root);
    expect((await get(`/anchors/${story.nodeAccount}/3`, tokens.auditor)).status).toBe(404);
    const c = await get("/consortium", tokens.auditor);
    expect(c.status).toBe(200);
    const members = c.body.members as { name: string; roles: string[]; status: string }[];
    expect(members).toHaveLength(8);
    expect(members[3]).toMatchObject({ name: "Atlas Motors", roles: ["supplier", "manufacturer"], status: "active" });
    const proposals = c.body.proposals as { kind: string; status: string; yes: number; no: number; votes: unknown[] }[];
    expect(proposals.map((p) => [p.kind, p.status, p.yes, p.no])).toEqual([
      ["RevokeRole", "rejected", 1, 4],
      ["AddAccount", "open", 1, 1],
      ["GrantRole", "executed", 5, 0],
    ]);
    const health = await get("/health");
    expect(health.body.indexedBlock).toBe(indexer.indexedBlock);
    expect(health.body.indexLag).toBe(0);
    const metrics = await (await gw.request("/metrics")).text();
    expect(metrics).toContain(`tracemesh_index_block ${indexer.indexedBlock}`);
    expect(metrics).toMatch(/tracemesh_index_lag_blocks 0/);
    expect(metrics).toMatch(/# TYPE tracemesh_index_events_total counter\ntracemesh_index_events_total [1-9]/);
    expect(metrics).toMatch(/# TYPE process_cpu_seconds_total counter/); // the default process metrics

  });

  it("GET /items/{id}/recall: why an item is recalled, by whom and when, all its recall reaches and what the caller holds", async () => {
    type Recall = { state: string; causes: { key: string; kind: string; identifier?: string; by?: { id: number }; at?: string }[]; reach: { count: number; held: number; items: { key: string; identifier?: string; held: boolean; status: string }[] } };
    const everything = new Set(["COIL-1", "COIL-2", "COIL-3", "CAST-1", "CAST-2", "SHAFT-1", "ENGINE-1"].map(key));
    // The engine holds a shaft machined from a casting of coil 1 of lot A, which the regulator recalled.
    const engine = (await get(`/items/${enc(dl("ENGINE-1"))}/recall`, tokens.oem)).body as unknown as Recall;
    expect(engine.state).toBe("in-scope");
    expect(engine.causes).toEqual([{ key: lotKey("LOT-A"), kind: "batch", by: { id: ORG_ID.regulator, name: expect.any(String) }, at: expect.stringMatching(/^\d{4}-/), recordId: expect.any(Number) }]);
    expect(new Set(engine.reach.items.map((i) => i.key))).toEqual(everything);
    // The OEM holds the engine and the shaft assembled into it; the lab holds none of them.
    expect(engine.reach).toMatchObject({ count: 7, held: 2 });
    expect(engine.reach.items.filter((i) => i.held).map((i) => i.key).sort()).toEqual([key("ENGINE-1"), key("SHAFT-1")].sort());
    expect(((await get(`/items/${key("ENGINE-1")}/recall`, tokens.lab)).body as unknown as Recall).reach).toMatchObject({ count: 7, held: 0 });
    // The lot itself, a coil of it and the ingot the mill recalled on its own are recalled; the sensor that left the engine is clear.
    const lotA = (await get(`/items/${enc(lot("LOT-A"))}/recall`, tokens.oem)).body as unknown as Recall;
    expect(lotA).toMatchObject({ state: "recalled", causes: [{ key: lotKey("LOT-A"), identifier: lot("LOT-A") }], reach: { count: 7 } });
    expect(((await get(`/items/${key("COIL-3")}/recall`, tokens.oem)).body as unknown as Recall).state).toBe("recalled");
    const ingot = (await get(`/items/${key("INGOT-9")}/recall`, tokens.oem)).body as unknown as Recall;
    expect(ingot).toMatchObject({ state: "recalled", causes: [{ key: key("INGOT-9"), kind: "item", by: { id: ORG_ID.steel } }], reach: { count: 1 } });
    expect(await get(`/items/${key("SENSOR-1")}/recall`, tokens.oem)).toMatchObject({ status: 200, body: { state: "clear", causes: [], reach: { count: 0, held: 0 } } });
    // Statuses are codes for the page to word.
    expect(new Set(engine.reach.items.map((i) => i.status))).toEqual(new Set(["active", "consumed", "assembled"]));
  });

  it("a genealogy names a part from a document recorded about it, once the document is here, only to whoever may read it", async () => {
    type Graph = { nodes: { key: string; digitalLink?: string }[] };
    const part = async (token: string | undefined) =>
      ((await get(`/items/${key("NAME-TOP")}/genealogy?direction=backward`, token)).body as Graph).nodes.find((n) => n.key === key("NAME-PART"));
    const commissioned = { type: "ObjectEvent", eventTime: "2026-11-30T03:00:00.000Z", eventTimeZoneOffset: "+00:00", epcList: [dl("NAME-PART")], action: "ADD", bizStep: "commissioning" };
    const ch = cbvEventHash(commissioned, { context: CONTEXT });
    await done(story.as.oem.provenance.commission(key("NAME-TOP"), DISP_ACTIVE, cbvEventHash({ ...commissioned, epcList: [dl("NAME-TOP")] }, { context: CONTEXT }).digest));
    await done(story.as.oem.provenance.commission(key("NAME-PART"), DISP_ACTIVE, ch.digest));
    await done(story.as.oem.provenance.assemble(key("NAME-TOP"), [key("NAME-PART")], cbvEventHash({ ...commissioned, bizStep: "assembling" }, { context: CONTEXT }).digest));
    // A document naming the part, recorded on chain about another item: it does not name the part.
    const aside = await storeDocument(ORG_ID.oem, "names-the-part-elsewhere", [dl("NAME-PART"), dl("NAME-ASIDE")]);
    await done(story.as.oem.provenance.commission(key("NAME-ASIDE"), DISP_ACTIVE, aside.digest));
    await indexer.sync();
    expect(await part(tokens.oem)).toMatchObject({ key: key("NAME-PART") });
    expect((await part(tokens.oem))!.digitalLink).toBeUndefined();
    // The part's commissioning document arrives (no new block): the next answer names the part.
    await events.store.putOwn([{ hashId: ch.hashId, recordHash: ch.digest, context: CONTEXT, owner: ORG_ID.oem, origin: { kind: "own", captureId: "name-part" }, event: commissioned }]);
    expect(await part(tokens.oem)).toMatchObject({ digitalLink: dl("NAME-PART") });
    // The foundry may not read it: the key alone.
    expect((await part(tokens.foundry))!.digitalLink).toBeUndefined();
  });

  it("the recall view names an identifier only to whoever may read a document naming it; anonymous callers get nothing", async () => {
    // The mill's document about coil 3, held here as received; its hash recorded on chain by the mill.
    const h = await storeDocument(ORG_ID.steel, "coil-3-note", [dl("COIL-3")]);
    await done(story.as.steel.provenance.observe([key("COIL-3")], h.digest));
    await indexer.sync();
    const coil3 = (as?: string) => get(`/items/${enc(lot("LOT-A"))}/recall`, as).then((r) => (r.body as { reach: { items: { key: string; identifier?: string }[] } }).reach.items.find((i) => i.key === key("COIL-3")));
    // The mill shared lot A with the OEM (a batch grant): the OEM sees the serial; the foundry has no grant and sees only the key.
    expect(await coil3(tokens.oem)).toMatchObject({ identifier: dl("COIL-3") });
    const foundry = await coil3(tokens.foundry);
    expect(foundry).toBeDefined();
    expect(foundry!.identifier).toBeUndefined();
    expect((await get(`/items/${enc(lot("LOT-A"))}/recall`)).status).toBe(401);
    expect((await get(`/items/${enc(lot("LOT-A"))}/recall`, "not-a-token")).status).toBe(401);
    expect((await get(`/items/${enc(lot("LOT-A"))}/recall?limit=x`, tokens.oem)).body.detail).toMatch(/`limit` must be one integer/);
    expect((await get(`/items/${enc(dl("NEVER-MADE"))}/recall`, tokens.oem)).status).toBe(404);
  });

  it("GET /passport/{id} answers anyone with status, maker, recall state and certificate status only: no identifier the caller did not bring, no supplier", async () => {
    type Passport = { kind: string; identifier?: string; status?: string; maker: { name: string }; recall: { state: string; causes: Record<string, unknown>[] }; certificates: { id: string; state: string; of: string; issuer: { id: number } }[] };
    const engine = await get(`/passport/${enc(dl("ENGINE-1"))}`);
    expect(engine.status).toBe(200);
    const p = engine.body as unknown as Passport;
    expect(p).toMatchObject({ kind: "item", identifier: dl("ENGINE-1"), status: "active", maker: { name: "Atlas Motors" }, recall: { state: "in-scope" } });
    // What kind of subject was recalled; not which lot nor who recalled it (that would name a supplier).
    expect(p.recall.causes).toEqual([{ kind: "batch" }]);
    expect(JSON.stringify(engine.body)).not.toContain("Market Surveillance");
    expect(JSON.stringify(engine.body)).not.toContain("LOT-A");
    expect(JSON.stringify(engine.body)).not.toContain(lotKey("LOT-A"));
    expect(p.certificates.map((c) => [c.id, c.state, c.of])).toEqual([
      [keys.certificates[1], "superseded", "item"],
      [keys.certificates[2], "valid", "item"],
    ]);
    // A coil carries its lot's mill certificate; the lot itself is recalled.
    const coil = (await get(`/passport/${key("COIL-3")}`)).body as unknown as Passport;
    expect(coil).toMatchObject({ recall: { state: "recalled" }, certificates: [{ id: keys.certificates[0], of: "batch", issuer: { id: ORG_ID.lab } }] });
    expect((await get(`/passport/${key("COIL-3")}`)).body).not.toHaveProperty("identifier");
    // No documents, no history, no genealogy: the signed-in routes still refuse an anonymous caller.
    expect(Object.keys(p).sort()).toEqual(["certificates", "identifier", "key", "kind", "maker", "recall", "status"]);
    // The shaft, machined by Delta Machining, now in the OEM's engine: its passport names its maker, not its holder.
    expect((await get(`/passport/${enc(dl("SHAFT-1"))}`)).body).toMatchObject({ maker: { id: ORG_ID.machining } });
    expect(JSON.stringify((await get(`/passport/${enc(dl("SHAFT-1"))}`)).body)).not.toContain("Atlas Motors");
    expect((await get(`/items/${enc(dl("ENGINE-1"))}/history`)).status).toBe(401);
    expect((await get(`/passport/${enc(dl("NEVER-MADE"))}`)).status).toBe(404);
    expect((await get("/passport/not-an-id")).status).toBe(400);
    // The certificate page's tie to a recall of the subject: lot A's mill certificate, the engine's.
    expect((await get(`/certificates/${keys.certificates[0]}`)).body).toMatchObject({ state: "valid", subjectRecall: "recalled" });
    expect((await get(`/certificates/${keys.certificates[2]}`)).body).toMatchObject({ subjectRecall: "in-scope" });
  });

  it("GET /consortium/members answers anyone with names, roles and status; accounts, nodes, proposals and votes stay for members", async () => {
    const open = await get("/consortium/members");
    expect(open.status).toBe(200);
    const members = open.body as unknown as Record<string, unknown>[];
    expect(members).toContainEqual({ id: ORG_ID.oem, name: "Atlas Motors", roles: expect.arrayContaining(["manufacturer"]), status: "active" });
    for (const m of members) expect(Object.keys(m).sort()).toEqual(["id", "name", "roles", "status"]);
    expect(JSON.stringify(open.body)).not.toMatch(/0x[0-9a-fA-F]{40}/);
    expect((await get("/consortium")).status).toBe(401);
  });

  it("refuses callers without a token or with an expired one (401)", async () => {
    for (const p of [`/items/${key("ENGINE-1")}`, `/items/${key("ENGINE-1")}/history`, `/items/${key("ENGINE-1")}/genealogy`, `/items/${key("ENGINE-1")}/certificates`, `/anchors/${story.nodeAccount}/1`, "/consortium"]) {
      const none = await get(p);
      expect(none.status, p).toBe(401);
      expect(none.type).toContain("application/problem+json");
      expect((await get(p, "not-a-token")).status, p).toBe(401);
    }
    const token = await gw.signIn("oem");
    now += 16 * 60_000;
    try {
      const expired = await get(`/items/${key("ENGINE-1")}/history`, token);
      expect(expired.status).toBe(401);
      expect(expired.body.detail).toMatch(/expired/);
    } finally {
      now -= 16 * 60_000;
    }
  });

  it("refuses malformed ids and parameters (400) and unknown items (404), saying why", async () => {
    const cases: [string, RegExp][] = [
      ["/items/not-an-id", /neither an EPC URI .* nor a GS1 Digital Link/],
      ["/items/0x1234", /not a 0x item key/],
      [`/items/${enc("https://id.gs1.org/01/09521234543210/21/X")}`, /check digit|not an item id/i],
      [`/items/${enc("https://id.gs1.org/01/09521234543213")}`, /neither an item nor a batch/],
      [`/items/${key("ENGINE-1")}/genealogy?direction=sideways`, /backward, forward or both/],
      [`/items/${key("ENGINE-1")}/genealogy?depth=0`, /`depth` must be one integer from 1/],
      [`/items/${key("ENGINE-1")}/genealogy?depth=2&depth=3`, /`depth` must be one integer/],
      [`/items/${key("ENGINE-1")}/history?limit=abc`, /`limit` must be one integer/],
      [`/items/${key("ENGINE-1")}/history?owner=4`, /unknown query parameter `owner`/],
      [`/anchors/0x12/1`, /not a node account address/],
      [`/anchors/${story.nodeAccount}/0`, /not a window sequence number/],
      ["/consortium?members=all", /unknown query parameter `members`/],
    ];
    for (const [p, detail] of cases) {
      const r = await get(p, tokens.oem);
      expect(r.status, p).toBe(400);
      expect(r.body.detail, p).toMatch(detail);
    }
    const unknown = await get(`/items/${enc(dl("NEVER-MADE"))}`, tokens.oem);
    expect(unknown.status).toBe(404);
    expect(unknown.body.detail).toMatch(/no item https:\/\/id\.gs1\.org\/01\/09521234543213\/21\/NEVER-MADE on chain/);
  });

  it("a revocation bites at once, before the index sees it: decisions ask the chain", async () => {
    const item = key("DOC-1");
    const grantId = await story.view.accessGrants.grantIdOf(ORG_ID.oem, ORG_ID.foundry, item);
    expect(((await get(`/items/${item}/history`, tokens.foundry)).body.entries as Entry[])[0]).toMatchObject({ access: "granted" });
    await done(story.as.oem.accessGrants.revokeAccess(grantId));
    // No indexer.sync(): the index still holds the grant as live.
    expect((await indexer.store.get<{ revoked: boolean }>(`gr:${grantId.toLowerCase()}`))?.revoked).toBe(false);
    expect(((await get(`/items/${item}/history`, tokens.foundry)).body.entries as Entry[])[0]).toMatchObject({ access: "public-fact", document: null });
    await indexer.sync();
  });

  it("a stopped or lagging index answers 503 with Retry-After, and /health is not ok", async () => {
    const index = indexService(indexer);
    const strict = await startTestGateway({ chain: tc, node: "oem", services: { index, events }, gateway: { rateLimit: false, maxIndexLagBlocks: 2 } });
    const stopped = await startTestGateway({ chain: tc, node: "oem", services: { index: { ...index, stopped: () => "reorg deeper than the undo records" }, events }, gateway: { rateLimit: false } });
    try {
      const token = await strict.signIn("oem");
      await indexer.sync();
      expect((await strict.request(`/items/${key("ENGINE-1")}`, { token })).status).toBe(200);
      for (let i = 0; i < 3; i++) await story.provider.send("evm_mine", []);
      // ethers shares one answer to identical calls for 250 ms.
      await new Promise((r) => setTimeout(r, 300));
      const behind = await strict.request(`/items/${key("ENGINE-1")}/history`, { token });
      expect(behind.status).toBe(503);
      expect(behind.headers.get("retry-after")).toBe("10");
      expect(((await behind.json()) as { detail: string }).detail).toMatch(/3 blocks behind the chain \(at most 2 allowed\)/);
      const health = await strict.request("/health");
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ ok: false, problem: expect.stringMatching(/blocks behind/) });
      await indexer.sync();
      expect((await strict.request(`/items/${key("ENGINE-1")}/history`, { token })).status).toBe(200);
      expect((await strict.request("/health")).status).toBe(200);

      const t2 = await stopped.signIn("oem");
      const frozen = await stopped.request(`/items/${key("ENGINE-1")}`, { token: t2 });
      expect(frozen.status).toBe(503);
      expect(((await frozen.json()) as { detail: string }).detail).toMatch(/stopped following the chain \(reorg deeper/);
      expect(await (await stopped.request("/health")).json()).toMatchObject({ ok: false, problem: expect.stringMatching(/stopped/) });
    } finally {
      await strict.stop();
      await stopped.stop();
    }
  });

  it("answers 503 on a node that runs no chain index", async () => {
    const bare = await startTestGateway({ chain: tc, node: "lab", gateway: { rateLimit: false } });
    try {
      const token = await bare.signIn("lab");
      const res = await bare.request(`/items/${key("ENGINE-1")}`, { token });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { detail: string }).detail).toMatch(/chain index/);
    } finally {
      await bare.stop();
    }
  });
});
