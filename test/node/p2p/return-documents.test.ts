/**
 * Re-fetching a node's own EPCIS event documents from partners (issue 18): real member processes
 * on a real anvil chain. The steel mill captures three documents (recorded on Provenance) and
 * shares two with the OEM under item grants; the third it never shares. The Rogue castings node
 * is an in-process host: it asks for the mill's documents, records one of the mill's hashes as
 * its own, and serves the return protocol with lies.
 *
 * - Partners hand documents back only to the organisation that made them, and only copies they
 *   received from it: another member (even one that recorded the same hash on chain), a request
 *   naming an organisation and a peer of no member get nothing, and the refusals are counted.
 * - The mill's event store is deleted; `repair --from-partners` restores exactly the two shared
 *   documents, each verified against the mill's own record, with its context and ignoreFields;
 *   the one never shared is reported LOST by record hash (exit 1); the liar is banned. Started
 *   again, the mill serves the restored documents and a partner's verification of them passes.
 * - Each kind of lie (an altered document, another organisation's, one never recorded, one given
 *   twice, an answer claiming hashes it does not cover) is caught and nothing wrong is stored.
 */
import { readFileSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { multiaddr } from "@multiformats/multiaddr";
import { peerIdFromString } from "@libp2p/peer-id";
import { JsonRpcProvider, NonceManager, Wallet, encodeBytes32String } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TracemeshContracts, connectContracts } from "../../../lib/deployment.ts";
import { dispositionKey } from "../../../lib/epcis/events.ts";
import { itemKey } from "../../../lib/identifiers/canonical.ts";
import { ScopeKind } from "../../../lib/registry.ts";
import { devKey } from "../../../scripts/local-chain/local-chain.ts";
import { verifyReceivedEvent } from "../../../node/events/verify.ts";
import { openEvents } from "../../../node/events/service.ts";
import { ChainClient } from "../../../node/chain/client.ts";
import { createGateway } from "../../../gateway/app.ts";
import { chainServices } from "../../../gateway/services.ts";
import { GatewayClient } from "../../../lib/gateway-client.ts";
import { type DocumentPartner, type OwnRecord, missingDocuments, ownRecords, refetchDocuments } from "../../../node/events/refetch.ts";
import { type EventDocument, chainEventVerifier, identitiesOf } from "../../../node/p2p/documents.ts";
import { createHost } from "../../../node/p2p/host.ts";
import type { P2pStatus } from "../../../node/p2p/network.ts";
import { decodeJson, readFrame, writeFrame } from "../../../node/p2p/protocol.ts";
import { type DocumentsRequest, RETURN_PROTOCOL, askReturnDocuments, parseReturnRequest } from "../../../node/p2p/return-fetch.ts";
import { TAG_JSON } from "../../../node/p2p/wire.ts";
import { eventually, tempDir } from "./helpers.ts";
import { type Consortium, type Member, MemberProcess } from "./members.ts";
import { repairFromPartners, setUpReturnConsortium, stopReturnTest, withEvents, withReceived } from "./return-setup.ts";

const CONTEXT = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"];
const FIXTURES = path.resolve(import.meta.dirname, "../../../../shared/fixtures/epcis");
const PURPOSE = encodeBytes32String("QUALITY_CLAIM");

const commissioning = (epc: string): Record<string, unknown> => ({
  type: "ObjectEvent",
  eventTime: new Date().toISOString(),
  eventTimeZoneOffset: "+00:00",
  epcList: [epc],
  action: "ADD",
  bizStep: "commissioning",
  disposition: "active",
});

interface Published extends EventDocument {
  hashId: string;
  recordHash: string;
}

describe("re-fetching lost event documents from partners", { timeout: 600_000 }, () => {
  const tmp = tempDir("tm-p2p-return-docs-");
  let cons: Consortium;
  let provider: JsonRpcProvider;
  let contracts: TracemeshContracts;
  const running: Record<string, MemberProcess> = {};
  let steel: Member, oem: Member, rogue: Member;
  let liar: Awaited<ReturnType<typeof createHost>> | undefined;
  /** The mill's documents: two shared with the OEM, one never shared. */
  let shared: Published[] = [];
  let unshared: Published;
  // Each organisation's second account signs the test's transactions (one nonce manager each).
  const admins = new Map<string, NonceManager>();
  const admin = (m: Member) => {
    if (!admins.has(m.name)) admins.set(m.name, new NonceManager(new Wallet(devKey(m.keyIndex + 4), provider)));
    return admins.get(m.name)!;
  };

  const p2pOf = async (who: string) => ((await running[who]!.call("status")).status as { p2p: P2pStatus }).p2p;
  const held = async (who: string, hash: string) => (await running[who]!.call("events", { hash })).events as { sid: string; origin: { kind: string } }[];

  /** Records a commissioning document for the mill on Provenance and hands it to its node, announced to `partners`. */
  async function publish(epc: string, partners: number[], extra: { event?: Record<string, unknown>; context?: unknown; ignoreFields?: string[] } = {}): Promise<Published> {
    const doc: EventDocument = { event: { ...commissioning(epc), ...extra.event }, context: extra.context ?? CONTEXT, ...(extra.ignoreFields ? { ignoreFields: extra.ignoreFields } : {}) };
    const ids = identitiesOf(doc);
    await (await contracts.provenance.connect(admin(steel)).commission(itemKey(epc), dispositionKey("active"), ids.recordHash)).wait();
    await running.steel!.call("own-event", { ...doc, partners });
    return { ...doc, ...ids };
  }

  beforeAll(async () => {
    cons = await setUpReturnConsortium(
      tmp.dir,
      [
        { name: "steel", org: "Northern Steel Mill", keyIndex: 1, devices: ["furnace-1"] },
        { name: "oem", org: "Atlas Motors", keyIndex: 2 },
        { name: "rogue", org: "Rogue Castings", keyIndex: 3 },
      ],
      "steel",
    );
    ({ steel, oem, rogue } = cons.members as Record<"steel" | "oem" | "rogue", Member>);
    provider = new JsonRpcProvider(cons.chain.url, undefined, { staticNetwork: true, batchMaxCount: 1 });
    contracts = connectContracts(cons.deployment.contracts, provider);
    for (const p of await Promise.all([steel, oem].map((m) => MemberProcess.start(m)))) running[p.member.name] = p;
  }, 300_000);

  afterAll(() => stopReturnTest({ liar, running, provider, cons, tmp }));

  it("partners hand documents back only to the organisation that made them, counting every refusal", async () => {
    const epcs = ["urn:epc:id:sgtin:4012345.011111.2001", "urn:epc:id:sgtin:4012345.011111.2002", "urn:epc:id:sgtin:4012345.011111.2003"];
    const grants = contracts.accessGrants.connect(admin(steel));
    const expiry = (await provider.getBlock("latest"))!.timestamp + 7 * 24 * 3600;
    for (const epc of epcs.slice(0, 2)) await (await grants.grantAccess(oem.orgId, ScopeKind.Item, itemKey(epc), PURPOSE, 0, 0, expiry)).wait();
    shared = [
      await publish(epcs[0]!, [oem.orgId]),
      // Its document declares a field left out of the hash: it must come back with it, or it would hash otherwise.
      await publish(epcs[1]!, [oem.orgId], { event: { "ex:scanner": "S-17" }, context: [...CONTEXT, { ex: "https://ns.example.com/epcis/" }], ignoreFields: ["ex:scanner"] }),
    ];
    unshared = await publish(epcs[2]!, []);
    expect(await eventually(async () => (await Promise.all(shared.map((d) => held("oem", d.hashId)))).every((h) => h.some((e) => e.origin.kind === "received")), 60_000, 300)).toBe(true);
    expect(await held("oem", unshared.hashId)).toEqual([]);

    const ask = (host: Parameters<typeof askReturnDocuments>[0], hashes: string[]) => askReturnDocuments(host, peerIdFromString(oem.peerId), { v: 1, type: "documents", recordHashes: hashes });
    const other = await createHost({ keyFile: path.join(rogue.dir, "p2p.key"), listen: ["/ip4/127.0.0.1/tcp/0"] });
    try {
      await other.dial(multiaddr(oem.addr));
      // Another member asking for the mill's documents: none of the hashes is its record.
      const refused = await ask(other, shared.map((d) => d.recordHash));
      expect(refused).toMatchObject({ error: "not-granted" });
      expect((refused as { detail: string }).detail).toContain(`recorded on Provenance by organisation ${rogue.orgId}`);
      // Recording the mill's hash as its own on chain does not make the mill's document its own.
      await (await contracts.provenance.connect(admin(rogue)).observe([], shared[0]!.recordHash)).wait();
      expect(await ask(other, [shared[0]!.recordHash])).toEqual({ documents: [], answered: 1 });
      // A request names no organisation.
      const named = await askRaw(other, { v: 1, type: "documents", recordHashes: [shared[0]!.recordHash], org: steel.orgId });
      expect(named).toMatchObject({ error: "bad-request" });
    } finally {
      await other.stop();
    }
    // A peer of no member is not even let in.
    const stranger = await createHost({ keyFile: path.join(tmp.dir, "stranger.key"), listen: ["/ip4/127.0.0.1/tcp/0"] });
    try {
      await expect(ask(stranger, [shared[0]!.recordHash])).rejects.toThrow();
    } finally {
      await stranger.stop();
    }
    expect(await eventually(async () => {
      const { returns } = await p2pOf("oem");
      return (returns.refused["not-granted"] ?? 0) >= 1 && (returns.refused["bad-request"] ?? 0) >= 1 && returns.served === 1;
    }, 10_000)).toBe(true);
    expect(parseReturnRequest({ v: 1, type: "documents", recordHashes: [shared[0]!.recordHash, shared[0]!.recordHash] })).toMatch(/twice/);
    expect(parseReturnRequest({ v: 1, type: "documents", recordHashes: [] })).toMatch(/1 to 64/);
  });

  it("the mill's event store is lost: the shared documents come back verified, the unshared one is reported lost, the liar banned", async () => {
    await running.steel!.stop();
    delete running.steel;
    rmSync(path.join(steel.dataDir, "events"), { recursive: true, force: true });

    // The liar: answers with the genuine document of every hash asked, its event time altered.
    const genuine = new Map([...shared, unshared].map((d) => [d.recordHash, d]));
    liar = await createHost({ keyFile: path.join(rogue.dir, "p2p.key"), listen: [`/ip4/127.0.0.1/tcp/${rogue.port}`] });
    await liar.handle(RETURN_PROTOCOL, async (stream) => {
      const r = decodeJson(await readFrame(stream, 16_384)) as DocumentsRequest;
      const documents = r.recordHashes.map((h) => {
        const { event, context, ignoreFields } = genuine.get(h)!;
        return { event: { ...event, eventTime: "2020-01-01T00:00:00.000Z" }, context, ...(ignoreFields ? { ignoreFields } : {}) };
      });
      await writeFrame(stream, Buffer.concat([Buffer.of(TAG_JSON), Buffer.from(JSON.stringify({ type: "documents", documents, answered: r.recordHashes.length }))]), 4 << 20);
      await stream.close();
    });

    const run = await repairFromPartners(steel.configFile);
    expect(run.status, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toContain(`refetch: documents: organisation ${steel.orgId} made 3 record(s) on chain; the event store lacks the document of 3`);
    expect(run.stdout).toContain("documents: 2 restored, 1 still lost (of 3 missing; the organisation made 3 record(s) on chain)");
    for (const d of shared) expect(run.stdout).toMatch(new RegExp(`RESTORED document ${escape(d.hashId)} .*hash ${d.recordHash}\\) from ${oem.peerId}`));
    expect(run.stdout).toMatch(new RegExp(`LOST document of record \\d+ \\(Commission, hash ${unshared.recordHash}\\): held by no partner reached`));
    expect(run.stdout).toMatch(new RegExp(`BANNED ${rogue.peerId}: returned a document hashing to 0x[0-9a-f]{64}, not one of the record hashes asked`));
    const kept = readdirSync(steel.dataDir).filter((f) => f.startsWith("refetch-")).sort().at(-1)!;
    const outcome = JSON.parse(readFileSync(path.join(steel.dataDir, kept), "utf8")) as { documents: { restored: { recordHash: string }[]; lost: { recordHash: string }[] } };
    expect(outcome.documents.restored.map((d) => d.recordHash).sort()).toEqual(shared.map((d) => d.recordHash).sort());
    expect(outcome.documents.lost.map((d) => d.recordHash)).toEqual([unshared.recordHash]);
    expect(await withReceived(steel.dataDir, (r) => r.reports())).toEqual([expect.objectContaining({ peer: rogue.peerId, altered: true, reason: expect.stringMatching(/^returned documents that fail verification/) })]);

    // Stored back as the mill's own, whole: each re-hashes to its record, verified on chain.
    await withEvents(path.join(steel.dataDir, "events"), async (store) => {
      for (const d of shared) {
        const e = (await store.bySid("o" + d.recordHash.slice(2)))!;
        expect(e).toMatchObject({ hashId: d.hashId, owner: steel.orgId, origin: { kind: "own", restored: { peerId: oem.peerId, org: oem.orgId } }, chain: { kind: "Commission" } });
        expect(e.event).toEqual(d.event);
        expect(e.ignoreFields).toEqual(d.ignoreFields);
        const verified = await verifyReceivedEvent(provider, cons.deployment.contracts.provenance, e.event, e.context, steel.orgId, e.ignoreFields);
        expect(verified.recordHash).toBe(d.recordHash);
        // Found by the store's indexes again (the gateway's queries go through them).
        expect((await store.get(d.hashId)).map((x) => x.sid)).toEqual([e.sid]);
      }
      expect(await store.bySid("o" + unshared.recordHash.slice(2))).toBeUndefined();
    });

    // The mill's gateway, over its event store, serves them again; each verifies against the chain as served.
    const events = await openEvents({
      dataDir: steel.dataDir,
      deployment: cons.deployment,
      client: new ChainClient(provider),
      signer: new Wallet(devKey(steel.keyIndex), provider),
      provider,
      validator: { schemaPath: path.join(FIXTURES, "EPCIS-JSON-Schema.json") },
      contexts: path.join(FIXTURES, "epcis-context.jsonld"),
      recordCheckMs: 0,
      log: () => undefined,
    });
    const base = await chainServices(provider, cons.deployment, { id: steel.orgId, name: steel.org });
    const server = await createGateway({ ...base, events }, { log: "silent", rateLimit: false }).listen(0, "127.0.0.1");
    try {
      const token = await new GatewayClient(server.url, admin(steel)).bearer();
      for (const d of shared) {
        const res = await fetch(`${server.url}/events/${encodeURIComponent(d.hashId)}`, { headers: { authorization: `Bearer ${token}` } });
        expect(res.status, d.hashId).toBe(200);
        const body = (await res.json()) as { "@context": unknown[]; epcisBody: { queryResults: { resultsBody: { eventList: Record<string, unknown>[] } } } };
        const [served] = body.epcisBody.queryResults.resultsBody.eventList;
        expect(served).toMatchObject({ eventID: d.hashId, epcList: d.event["epcList"] });
        const verified = await verifyReceivedEvent(provider, cons.deployment.contracts.provenance, served!, body["@context"], steel.orgId, d.ignoreFields);
        expect(verified).toMatchObject({ hashId: d.hashId, recordHash: d.recordHash });
      }
      expect((await fetch(`${server.url}/events/${encodeURIComponent(unshared.hashId)}`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
    } finally {
      await server.close();
      base.close();
      await events.close();
    }

    // Started again, the mill's node serves them: a partner fetches each and verifies it against the chain.
    await liar.stop();
    liar = undefined;
    running.steel = await MemberProcess.start(steel);
    for (const d of shared) {
      expect(await running.oem!.call("fetch-event", { peer: steel.peerId, hash: d.hashId })).toMatchObject({ ok: true, hashId: d.hashId, recordHash: d.recordHash, recordKind: "Commission" });
    }
    // Run again: nothing to ask for the restored ones; the unshared one is still lost.
    await running.steel.stop();
    delete running.steel;
    const again = await repairFromPartners(steel.configFile);
    expect(again.status, again.stdout + again.stderr).toBe(1);
    expect(again.stdout).toContain("the event store lacks the document of 1");
  });

  it("catches every kind of lie against the organisation's record; nothing wrong is stored", async () => {
    const records = await ownRecords(provider, cons.deployment.contracts.provenance, steel.orgId, cons.deployment.deploymentBlock);
    expect(records.map((r) => r.recordHash).sort()).toEqual([...shared, unshared].map((d) => d.recordHash).sort());
    const recordOf = chainEventVerifier(provider, cons.deployment.contracts.provenance).recordOf;
    const docOf = ({ event, context, ignoreFields }: Published): EventDocument => ({ event, context, ...(ignoreFields ? { ignoreFields } : {}) });
    const byHash = new Map(shared.map((d) => [d.recordHash, docOf(d)]));
    const honest: DocumentPartner = {
      peer: "honest",
      org: oem.orgId,
      askDocuments: async (r) => {
        const documents = r.recordHashes.flatMap((h) => (byHash.has(h) ? [byHash.get(h)!] : []));
        return { documents, answered: r.recordHashes.length };
      },
    };
    // Rogue's own record: a document it recorded, not the mill's.
    const rogueDoc: EventDocument = { event: commissioning("urn:epc:id:sgtin:4012345.011111.2999"), context: CONTEXT };
    await (await contracts.provenance.connect(admin(rogue)).observe([], identitiesOf(rogueDoc).recordHash)).wait();
    const lying = (peer: string, answer: (r: DocumentsRequest) => { documents: unknown[]; answered: number }): DocumentPartner => ({ peer, org: rogue.orgId, askDocuments: async (r) => answer(r) });
    const all = (r: DocumentsRequest) => r.recordHashes.length;
    const lies: [DocumentPartner, RegExp][] = [
      [lying("altered", (r) => ({ documents: [{ ...docOf(shared[0]!), event: { ...shared[0]!.event, disposition: "destroyed" } }], answered: all(r) })), /not one of the record hashes asked/],
      [lying("another's", (r) => ({ documents: [rogueDoc], answered: all(r) })), /not one of the record hashes asked/],
      [lying("never recorded", (r) => ({ documents: [{ event: commissioning("urn:epc:id:sgtin:4012345.011111.2998"), context: CONTEXT }], answered: all(r) })), /not one of the record hashes asked/],
      [lying("twice", (r) => ({ documents: [docOf(shared[0]!), docOf(shared[0]!)], answered: all(r) })), /twice in one answer/],
      [lying("not a document", (r) => ({ documents: [{ event: "none" }], answered: all(r) })), /not an EPCIS event document/],
      // Dropped ignoreFields: the document hashes otherwise, so it is not taken.
      [lying("stripped", (r) => ({ documents: [{ event: shared[1]!.event, context: shared[1]!.context }], answered: all(r) })), /not one of the record hashes asked/],
    ];
    const missing: OwnRecord[] = records;
    for (const [partner, reason] of lies) {
      const dir = path.join(tmp.dir, `events-${partner.peer.replace(/\W/g, "-")}`);
      const banned: string[] = [];
      const report = await withEvents(dir, async (store) => {
        expect(await missingDocuments(store, records)).toHaveLength(3);
        const r = await refetchDocuments(store, missing, { ownOrg: steel.orgId, partners: [partner, honest], recordOf, onLie: async (peer) => void banned.push(peer), log: () => undefined });
        // Only what verified is held, as the mill's own.
        const heldNow = (await Promise.all(records.map((x) => store.bySid("o" + x.recordHash.slice(2))))).filter((e) => e !== undefined);
        expect(heldNow.map((e) => e.recordHash).sort(), partner.peer).toEqual(shared.map((d) => d.recordHash).sort());
        for (const e of heldNow) expect(identitiesOf({ event: e.event, context: e.context, ignoreFields: e.ignoreFields ?? [] }).recordHash).toBe(e.recordHash);
        return r;
      });
      expect(report.lied, partner.peer).toEqual([{ peer: partner.peer, reason: expect.stringMatching(reason) }]);
      expect(banned).toEqual([partner.peer]);
      // What verified before the lie stays (exact); the honest partner completes the rest.
      expect(report.restored.map((d) => d.recordHash).sort(), partner.peer).toEqual(shared.map((d) => d.recordHash).sort());
      expect(report.lost.map((d) => d.recordHash)).toEqual([unshared.recordHash]);
    }
    // A document whose stored value was left unreadable counts as lost, and is written over whole.
    await withEvents(path.join(tmp.dir, "events-garbled"), async (store) => {
      await refetchDocuments(store, missing, { ownOrg: steel.orgId, partners: [honest], recordOf, onLie: async () => expect.fail("no one lied"), log: () => undefined });
      const sid = "o" + shared[0]!.recordHash.slice(2);
      await store.db.put(`ev\u0000${sid}`, "{garbled", { valueEncoding: "utf8" });
      expect((await missingDocuments(store, records)).map((r) => r.recordHash).sort()).toEqual([shared[0]!.recordHash, unshared.recordHash].sort());
      const again = await refetchDocuments(store, await missingDocuments(store, records), { ownOrg: steel.orgId, partners: [honest], recordOf, onLie: async () => expect.fail("no one lied"), log: () => undefined });
      expect(again.restored.map((d) => d.recordHash)).toEqual([shared[0]!.recordHash]);
      expect((await store.bySid(sid))!.event).toEqual(shared[0]!.event);
    });
    // An answer claiming more hashes than asked is malformed: a lie, caught before anything is read.
    const overclaim: DocumentPartner = { peer: "overclaim", org: rogue.orgId, askDocuments: (r) => askReturnDocumentsFrom(r, { type: "documents", documents: [], answered: r.recordHashes.length + 1 }) };
    const report = await withEvents(path.join(tmp.dir, "events-overclaim"), (store) =>
      refetchDocuments(store, missing, { ownOrg: steel.orgId, partners: [overclaim], recordOf, onLie: async () => undefined, log: () => undefined }),
    );
    expect(report.lied).toEqual([{ peer: "overclaim", reason: expect.stringMatching(/covers 4 of the 3 record hashes/) }]);
  });

  /** Sends `request` as is (no client-side checks) to the OEM and answers its decoded answer. */
  async function askRaw(host: Awaited<ReturnType<typeof createHost>>, request: Record<string, unknown>): Promise<unknown> {
    const stream = await host.dialProtocol(peerIdFromString(oem.peerId), RETURN_PROTOCOL);
    await writeFrame(stream, Buffer.from(JSON.stringify(request)), 16_384);
    await stream.close();
    const frame = await readFrame(stream, 4 << 20);
    return JSON.parse(Buffer.from(frame.subarray(1)).toString("utf8"));
  }

  /** Runs `answer` through the real client's checks of an answer, over a pair of in-process hosts. */
  async function askReturnDocumentsFrom(request: DocumentsRequest, answer: unknown): ReturnType<typeof askReturnDocuments> {
    const server = await createHost({ keyFile: path.join(oem.dir, "p2p.key"), listen: ["/ip4/127.0.0.1/tcp/0"] });
    const client = await createHost({ keyFile: path.join(steel.dir, "p2p.key"), listen: ["/ip4/127.0.0.1/tcp/0"] });
    try {
      await server.handle(RETURN_PROTOCOL, async (stream) => {
        await readFrame(stream, 16_384);
        await writeFrame(stream, Buffer.concat([Buffer.of(TAG_JSON), Buffer.from(JSON.stringify(answer))]), 4 << 20);
        await stream.close();
      });
      await client.dial(server.getMultiaddrs()[0]!);
      return await askReturnDocuments(client, server.peerId, request);
    } finally {
      await client.stop();
      await server.stop();
    }
  }
});

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
