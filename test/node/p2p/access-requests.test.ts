/**
 * Access requests passed on over the peer network (node/p2p/access-requests.ts): the steel mill,
 * signed in on its own gateway, asks for the OEM's pump; its gateway passes the request on to the
 * OEM's node over real libp2p (hosts registered in a real Consortium, admitted by MembershipGate),
 * which keeps it through the same intake and store step as a request made on the OEM's own gateway.
 *
 * Hostile cases: a member whose message names another requester (ignored: the peer's organisation
 * is recorded), a peer of no member (not admitted; and refused by the handler itself when a host
 * lets it connect), a flood past the per-requester limit through p2p (429, said on the mill's
 * gateway), oversized and malformed frames, another member's token on the mill's gateway (not
 * passed on), and a maker's node that cannot be reached (503).
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProposalKind, proposalData } from "../../../lib/consortium.ts";
import type { AccessRequestAnswer, AccessRequestOutcome } from "../../../lib/api/grants.ts";
import { canonicalIdentifier, itemKey } from "../../../lib/identifiers/canonical.ts";
import { accessRequestIntake } from "../../../gateway/routes/access-requests.ts";
import { ACCESS_REQUEST_PROTOCOL, AccessRequestRelay, serveAccessRequests } from "../../../node/p2p/access-requests.ts";
import { MembershipGate } from "../../../node/p2p/gater.ts";
import { type Host, createHost, peerIdOfKeyFile } from "../../../node/p2p/host.ts";
import { decodeJson, encodeJson, readFrame, writeFrame } from "../../../node/p2p/protocol.ts";
import { AccessRequestStore } from "../../../node/passport/access-requests.ts";
import { type EventsGateway, startEventsGateway } from "../../helpers/events-gateway.ts";
import { type TestGateway, startTestGateway } from "../../helpers/gateway.ts";
import { passProposal } from "../../helpers/fixture.ts";
import { nodeFor, tempDir } from "./helpers.ts";

const EPCIS_CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
/** Pumps the OEM made: the first is asked for in most tests, the others by the floods. */
const PUMPS = [7, 8, 9, 10, 11].map((n) => canonicalIdentifier(`urn:epc:id:sgtin:0614141.112345.P-${String(n).padStart(4, "0")}`));
const PUMP = PUMPS[0]!;
const LISTEN = ["/ip4/127.0.0.1/tcp/0"];
const REQUEST = { subject: PUMP, scope: "item", purpose: "Incoming inspection", days: 30 } as const;

describe("access requests passed on over the peer network", { timeout: 120_000 }, () => {
  const tmp = tempDir("tm-p2p-access-");
  let oemGw: EventsGateway;
  let steelGw: TestGateway;
  const hosts: Host[] = [];
  let oemHost: Host, steelHost: Host, foundryHost: Host;
  let gate: MembershipGate;
  let store: AccessRequestStore;
  let steelToken: string;

  async function host(keyFile: string, withGate = true): Promise<Host> {
    const h = await createHost({ keyFile, listen: LISTEN, ...(withGate ? { connectionGater: gate.gater() } : {}) });
    hosts.push(h);
    return h;
  }
  /** Sends one raw frame to the OEM's node from `from` and reads its answer. */
  async function raw(from: Host, to: Host, payload: Uint8Array): Promise<AccessRequestOutcome> {
    await from.dial(to.getMultiaddrs()[0]!);
    const stream = await from.dialProtocol(to.peerId, ACCESS_REQUEST_PROTOCOL);
    await writeFrame(stream, payload, 1 << 20);
    await stream.close();
    return decodeJson(await readFrame(stream, 1 << 20)) as AccessRequestOutcome;
  }
  const post = (token: string, body: unknown) => steelGw.request("/access-requests", { method: "POST", token, json: body });

  beforeAll(async () => {
    oemGw = await startEventsGateway({}, { withIndex: true });
    const chain = oemGw.chain;
    store = await AccessRequestStore.open(path.join(tmp.dir, "oem-requests"), { pendingPerRequester: 3 });
    oemGw.gw.services.accessRequests = store;
    const doc = {
      "@context": [EPCIS_CTX],
      type: "EPCISDocument",
      schemaVersion: "2.0",
      creationDate: "2026-11-01T00:00:00Z",
      epcisBody: { eventList: [{ type: "ObjectEvent", eventTime: "2026-11-02T08:00:00Z", eventTimeZoneOffset: "+00:00", action: "ADD", bizStep: "commissioning", epcList: PUMPS }] },
    };
    expect((await oemGw.finished(await oemGw.post("/capture", JSON.stringify(doc), "application/ld+json"))).success).toBe(true);
    await oemGw.indexer!.sync();
    // Each organisation's node registered on chain by its peer id (the only address of a node there).
    const keys = { oem: path.join(tmp.dir, "oem.key"), steel: path.join(tmp.dir, "steel.key"), foundry: path.join(tmp.dir, "foundry.key") };
    for (const org of ["oem", "steel", "foundry"] as const) {
      await passProposal(chain, ProposalKind.AddNode, proposalData.addNode(chain.orgs[org].id, nodeFor(await peerIdOfKeyFile(keys[org]))));
    }
    gate = new MembershipGate(chain.orgs.oem.contracts.consortium, { ttlMs: 60_000 });
    oemHost = await host(keys.oem);
    steelHost = await host(keys.steel);
    foundryHost = await host(keys.foundry);
    const intake = accessRequestIntake(oemGw.gw.gateway.context);
    await serveAccessRequests(oemHost, { orgOf: (p) => gate.orgOf(p), intake: () => intake });
    // The mill's gateway shares the chain index (same chain) and passes its requests on from its own host.
    const relay = new AccessRequestRelay({ host: steelHost, selfOrg: chain.orgs.steel.id, peersOf: async (org) => (org === chain.orgs.oem.id ? [oemHost.peerId.toString()] : []), timeoutMs: 5_000 });
    await steelHost.dial(oemHost.getMultiaddrs()[0]!);
    steelGw = await startTestGateway({ chain, node: "steel", services: { index: oemGw.gw.services.index!, accessRelay: relay }, gateway: { rateLimit: false } });
    steelToken = await steelGw.signIn("steel");
  }, 120_000);

  afterAll(async () => {
    for (const h of hosts) await h.stop();
    await steelGw?.stop();
    await oemGw?.stop();
    tmp.remove();
  });

  it("the mill asks on its own gateway; the OEM's node keeps the request as the mill's, and a replay is a duplicate", async () => {
    const res = await post(steelToken, REQUEST);
    expect(res.status, await res.clone().text()).toBe(201);
    const request = (await res.json()) as AccessRequestAnswer;
    expect(request).toMatchObject({ requester: { id: oemGw.chain.orgs.steel.id, name: oemGw.chain.orgs.steel.name }, owner: { id: oemGw.chain.orgs.oem.id }, subject: PUMP, subjectKey: itemKey(PUMP), state: "pending" });
    expect(await store.get(request.id)).toEqual(request);
    const again = await post(steelToken, REQUEST);
    expect(again.status).toBe(409);
    expect(((await again.json()) as { detail: string; id: string }).id).toBe(request.id);
  });

  it("only the gateway's own organisation has its requests passed on: the foundry's token on the mill's gateway is refused", async () => {
    const res = await post(await steelGw.signIn("foundry"), { ...REQUEST, purpose: "Not mine to ask" });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/made by another organisation/);
  });

  it("a member naming another requester in its message is recorded as itself", async () => {
    const answer = await raw(foundryHost, oemHost, encodeJson({ v: 1, type: "submit", ...REQUEST, scope: "item-genealogy", requester: { id: oemGw.chain.orgs.steel.id, name: "Northern Steel" } }));
    expect(answer.status).toBe(201);
    const kept = (answer as { request: AccessRequestAnswer }).request;
    expect(kept.requester.id).toBe(oemGw.chain.orgs.foundry.id);
    expect((await store.get(kept.id))?.requester.id).toBe(oemGw.chain.orgs.foundry.id);
  });

  it("a peer of no member is not admitted, and a handler reached without the gater refuses it by the chain's registry", async () => {
    const stranger = await host(path.join(tmp.dir, "stranger.key"), false);
    await expect(raw(stranger, oemHost, encodeJson({ v: 1, type: "submit", ...REQUEST }))).rejects.toThrow();
    // A host that lets anyone connect still asks the chain who the peer is.
    const open = await host(path.join(tmp.dir, "oem.key"), false);
    await serveAccessRequests(open, { orgOf: (p) => gate.orgOf(p), intake: () => accessRequestIntake(oemGw.gw.gateway.context) });
    const before = (await store.list()).length;
    const answer = await raw(stranger, open, encodeJson({ v: 1, type: "submit", ...REQUEST, purpose: "Stranger" }));
    expect(answer).toMatchObject({ status: 403, detail: expect.stringMatching(/not registered to an active member/) });
    expect((await store.list()).length).toBe(before);
  });

  it("malformed and oversized frames are answered as bad requests, and nothing is kept", async () => {
    const before = (await store.list()).length;
    expect(await raw(foundryHost, oemHost, new TextEncoder().encode("{not json"))).toMatchObject({ status: 400 });
    expect(await raw(foundryHost, oemHost, encodeJson({ v: 2, type: "submit", ...REQUEST }))).toMatchObject({ status: 400 });
    expect(await raw(foundryHost, oemHost, encodeJson({ v: 1, type: "submit", ...REQUEST, days: 9999 }))).toMatchObject({ status: 400, detail: expect.stringMatching(/days/) });
    expect(await raw(foundryHost, oemHost, encodeJson({ v: 1, type: "submit", ...REQUEST, purpose: "x".repeat(20_000) }))).toMatchObject({ status: 400, detail: expect.stringMatching(/JSON frame of at most/) });
    expect((await store.list()).length).toBe(before);
  });

  it("a flood past the limit through the peer network gets the store's refusal: 429 on the mill's gateway, and at the handler", async () => {
    // The mill has one request pending (the first test) and the OEM keeps 3 per requester: of four
    // more at once, two are kept and two refused, whatever order they arrive in.
    const answers = await Promise.all(PUMPS.slice(1).map((subject, n) => post(steelToken, { ...REQUEST, subject, purpose: `Flood ${n}` })));
    expect(answers.map((r) => r.status).sort()).toEqual([201, 201, 429, 429]);
    const refused = (await answers.find((r) => r.status === 429)!.json()) as { detail: string; pending: number };
    expect(refused.detail).toMatch(/^the maker's node: .+ has 3 requests waiting for .+'s answer, the most it keeps from one organisation/);
    expect(refused.pending).toBe(3);
    const steelPending = (await store.list()).filter((r) => r.requester.id === oemGw.chain.orgs.steel.id && r.state === "pending");
    expect(steelPending).toHaveLength(3);
    // The same straight at the OEM's handler from the foundry's node (one pending from an earlier test).
    const raws = await Promise.all(PUMPS.slice(1).map((subject) => raw(foundryHost, oemHost, encodeJson({ v: 1, type: "submit", ...REQUEST, subject }))));
    expect(raws.map((a) => a.status).sort()).toEqual([201, 201, 429, 429]);
    expect(raws.find((a) => a.status === 429)).toMatchObject({ extra: { pending: 3 } });
  });

  it("the mill sees its own requests to the OEM and their state on its own gateway, asked of the OEM's node; no one else's", async () => {
    const oemId = oemGw.chain.orgs.oem.id;
    const first = (await store.list()).find((r) => r.requester.id === oemGw.chain.orgs.steel.id && r.subject === PUMP)!;
    await store.put({ ...first, state: "declined", decidedAt: new Date().toISOString() });
    const res = await steelGw.request(`/access-requests?maker=${oemId}`, { token: steelToken });
    expect(res.status, await res.clone().text()).toBe(200);
    const mine = (await res.json()) as AccessRequestAnswer[];
    const expected = (await store.list()).filter((r) => r.requester.id === oemGw.chain.orgs.steel.id);
    expect(mine.map((r) => r.id)).toEqual(expected.map((r) => r.id));
    expect(mine.find((r) => r.id === first.id)?.state).toBe("declined");
    // The foundry's requests (kept at the OEM too) are not the mill's to see.
    expect(mine.every((r) => r.requester.id === oemGw.chain.orgs.steel.id)).toBe(true);
    expect((await store.list()).some((r) => r.requester.id === oemGw.chain.orgs.foundry.id)).toBe(true);
    // Another member's token on the mill's gateway is not answered with the mill's requests.
    expect((await steelGw.request(`/access-requests?maker=${oemId}`, { token: await steelGw.signIn("foundry") })).status).toBe(403);
    expect((await steelGw.request(`/access-requests?maker=x`, { token: steelToken })).status).toBe(400);
    // Straight at the handler, the foundry's node gets the foundry's requests only.
    const raws = (await raw(foundryHost, oemHost, encodeJson({ v: 1, type: "mine", requester: { id: oemGw.chain.orgs.steel.id } }))) as unknown as { status: number; requests: AccessRequestAnswer[] };
    expect(raws.status).toBe(200);
    expect(raws.requests.length).toBeGreaterThan(0);
    expect(raws.requests.every((r) => r.requester.id === oemGw.chain.orgs.foundry.id)).toBe(true);
  });

  it("a maker whose node does not take requests (here: a node that does not speak the protocol) is said as 503 naming why", async () => {
    const kept = steelGw.services.accessRelay;
    steelGw.services.accessRelay = new AccessRequestRelay({ host: steelHost, selfOrg: oemGw.chain.orgs.steel.id, peersOf: async () => [foundryHost.peerId.toString()], timeoutMs: 2_000 });
    try {
      const res = await post(steelToken, { ...REQUEST, purpose: "Nobody listening" });
      expect(res.status).toBe(503);
      const detail = ((await res.json()) as { detail: string }).detail;
      expect(detail, detail).toMatch(/could not be passed on to its maker's node: no node of organisation \d+ answered/);
    } finally {
      steelGw.services.accessRelay = kept;
    }
  });
});
