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
import { parseIdentifier } from "../../lib/identifiers/canonical.ts";
import { toEpcUri } from "../../lib/identifiers/epc-uri.ts";
import { eventHash as cbvEventHash } from "../../lib/epcis/event-hash.ts";
import { ScopeKind } from "../../lib/registry.ts";
import { ChainClient } from "../../node/chain/client.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { Indexer } from "../../node/indexer/index.ts";
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
    // Visibility of events from the same index the routes use.
    access: indexService(indexer).access,
  });
  gw = await startTestGateway({ chain: tc, node: "oem", services: { index: indexService(indexer), events }, gateway: { clock: () => now, rateLimit: false } });
  for (const org of ["oem", "lab", "steel", "foundry", "auditor"] as const) tokens[org] = await gw.signIn(org);
});

afterAll(async () => {
  await gw?.stop();
  await indexer?.stop();
  await events?.close();
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
    const asLab = (await get(`/items/${key("SHAFT-1")}/history`, tokens.lab)).body.entries as Entry[];
    expect(asLab.map((e) => [e.kind, e.org.id, e.access])).toEqual([
      ["transform", ORG_ID.machining, "public-fact"],
      ["ship", ORG_ID.machining, "public-fact"],
      ["receive", ORG_ID.oem, "granted"],
      ["assemble", ORG_ID.oem, "granted"],
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
