/**
 * node/events on its own: the event store on a real LevelDB (received events kept apart from own
 * ones, query cost following the answer, all-or-nothing batches, state surviving a reopen) and
 * capture jobs surviving a restart, including one whose transaction landed before the crash.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { documentEventHashes } from "../../../lib/epcis/event-hash.ts";
import { ChainClient } from "../../../node/chain/client.ts";
import { CaptureService } from "../../../node/events/capture.ts";
import { EventRecorder } from "../../../node/events/recorder.ts";
import { EventStore, type NewEvent } from "../../../node/events/store.ts";
import { ReceivedEventError, verifyReceivedEvent } from "../../../node/events/verify.ts";
import { type TestChain, startTestChain } from "../../helpers/gateway.ts";

const CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"];
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "tracemesh-events-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function event(i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: "ObjectEvent",
    action: "OBSERVE",
    eventTime: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
    eventTimeZoneOffset: "+00:00",
    epcList: [`urn:epc:id:sgtin:0614141.112345.E${i}`],
    bizStep: i % 2 === 0 ? "shipping" : "receiving",
    ...extra,
  };
}

function own(e: Record<string, unknown>, captureId = "c1"): NewEvent {
  const [h] = documentEventHashes({ "@context": CONTEXT, type: "EPCISDocument", epcisBody: { eventList: [e] } });
  return { hashId: h!.hashId, recordHash: h!.digest, context: CONTEXT, owner: 4, origin: { kind: "own", captureId }, event: e };
}

describe("EventStore", () => {
  it("keeps received events apart from own ones, idempotently, and finds both", async () => {
    const store = await EventStore.open(tempDir());
    try {
      const mine = own(event(1));
      await store.putOwn([mine]);
      const theirs = { ...own(event(2)), owner: 2, origin: { kind: "received" as const, peerId: "12D3KooWPeer", org: 2, grant: { scopeKey: "0x" + "11".repeat(32) }, receivedAt: new Date().toISOString() } };
      const stored = await store.putReceived(theirs);
      expect(stored.sid).toBe("r" + theirs.recordHash.slice(2));
      expect(stored.origin).toMatchObject({ kind: "received", peerId: "12D3KooWPeer", org: 2 });
      // Again: the copy held is answered, nothing is written twice.
      expect((await store.putReceived(theirs)).storedAt).toBe(stored.storedAt);
      // The same event as one of our own is not stored again as received.
      const ownAgain = await store.putReceived({ ...theirs, ...{ hashId: mine.hashId, recordHash: mine.recordHash, event: mine.event } });
      expect(ownAgain.sid).toBe("o" + mine.recordHash.slice(2));
      expect((await store.get(theirs.hashId)).map((e) => e.owner)).toEqual([2]);
      const page = await store.query({ eventType: ["ObjectEvent"] });
      expect(page.events.map((e) => e.sid[0])).toEqual(["o", "r"]);
    } finally {
      await store.close();
    }
  });

  it("answers from index ranges: a query's cost follows its answer, not the store's size", async () => {
    const store = await EventStore.open(tempDir());
    try {
      const rare = "urn:epc:id:sgtin:0614141.199999.RARE";
      const batch: NewEvent[] = [];
      for (let i = 0; i < 3000; i++) batch.push(own(event(i, i % 1000 === 7 ? { epcList: [rare] } : {})));
      await store.putOwn(batch);
      // Examining at most 3 candidates is enough for the 3 matching events among 3000.
      const page = await store.query({ epc: [rare], bizStep: ["receiving"] }, { maxScan: 3, perPage: 10 });
      expect(page.events.map((e) => e.event["eventTime"])).toEqual([7, 1007, 2007].map((i) => event(i)["eventTime"]));
      expect(page.nextPageToken).toBeUndefined();
      // A time range narrows the same index.
      const late = await store.query({ epc: [rare], geEventTime: String(event(1500)["eventTime"]) }, { maxScan: 1 });
      expect(late.events).toHaveLength(1);
      expect(late.nextPageToken).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("writes a document's events all or none, and survives a reopen with its page tokens valid", async () => {
    const dir = tempDir();
    let store = await EventStore.open(dir);
    const bad = { ...own(event(1)), event: { ...event(1), eventTime: "not a time" } };
    await expect(store.putOwn([own(event(0)), bad])).rejects.toThrow(/not a date and time/);
    expect((await store.query({})).events).toHaveLength(0);
    await store.putOwn([own(event(0)), own(event(1)), own(event(2))]);
    const first = await store.query({}, { perPage: 2, audience: "org:4" });
    expect(first.nextPageToken).toBeDefined();
    await store.close();
    store = await EventStore.open(dir);
    try {
      const rest = await store.query({}, { perPage: 2, audience: "org:4", nextPageToken: first.nextPageToken! });
      expect(rest.events.map((e) => e.event["eventTime"])).toEqual([event(2)["eventTime"]]);
      await expect(store.query({}, { perPage: 2, audience: "org:5", nextPageToken: first.nextPageToken! })).rejects.toThrow(/different query/);
    } finally {
      await store.close();
    }
  });
});

describe("capture jobs across a restart", () => {
  let chain: TestChain;
  let provider: JsonRpcProvider;
  let client: ChainClient;
  let signer: Wallet;
  beforeAll(async () => {
    chain = await startTestChain();
    provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1 });
    client = new ChainClient(provider, { pollMs: 25 });
    signer = new Wallet(chain.orgs.steel.accounts[1]!.privateKey, provider);
  }, 60_000);
  afterAll(async () => {
    provider?.destroy();
    await chain?.stop();
  });

  const recorder = () => new EventRecorder({ client, signer, provenance: chain.deployment.contracts.provenance });
  const doc = (...evs: Record<string, unknown>[]) => ({ "@context": CONTEXT, type: "EPCISDocument", schemaVersion: "2.0", creationDate: new Date().toISOString(), epcisBody: { eventList: evs } });

  it("resumes a job accepted before a restart, and recognises a transaction sent before a crash", async () => {
    const dir = tempDir();
    const steel = chain.orgs.steel.id;
    const commission = (i: number) => event(100 + i, { action: "ADD", bizStep: "commissioning", epcList: [`urn:epc:id:sgtin:4012345.011111.R${i}`] });

    // Accepted (durable), then the node stops before its worker ran.
    let store = await EventStore.open(path.join(dir, "events"));
    let service = new CaptureService(store, recorder());
    const accepted = await service.submit(doc(commission(1), commission(2)), steel);
    // A second document was being recorded when the node crashed: its transaction is on chain.
    const crashed = doc(commission(3));
    const sentBeforeCrash = await service.submit(crashed, steel);
    await store.close();
    const results = await recorder().record(crashed);
    const count = await chain.orgs.steel.contracts.provenance.recordCount();

    store = await EventStore.open(path.join(dir, "events"));
    service = new CaptureService(store, recorder());
    await service.start();
    try {
      const a = await service.finished(accepted.job.captureID);
      expect(a.state).toBe("succeeded");
      expect(a.results!.map((r) => r.how)).toEqual(["state-change", "state-change"]);
      const b = await service.finished(sentBeforeCrash.job.captureID);
      expect(b.state).toBe("succeeded");
      expect(b.results!.map((r) => [r.how, r.recordId])).toEqual([["already-recorded", results[0]!.recordId]]);
      // One more transaction (the resumed job), none for the document already on chain.
      expect(await chain.orgs.steel.contracts.provenance.recordCount()).toBe(count + 2n);
      expect((await store.get(b.results![0]!.hashId)).map((e) => e.chain?.recordId)).toEqual([results[0]!.recordId]);
      // Replaying a finished document answers its job.
      expect((await service.submit(doc(commission(1), commission(2)), steel)).replay).toBe(true);
    } finally {
      await service.stop();
      await store.close();
    }
  }, 60_000);

  it("checks an event received from a partner against the chain before storing it", async () => {
    const steel = chain.orgs.steel.id;
    const received = event(200, { action: "ADD", bizStep: "commissioning", epcList: ["urn:epc:id:sgtin:4012345.011111.V1"] });
    await recorder().record(doc(received));
    const provenance = chain.deployment.contracts.provenance;
    const ok = await verifyReceivedEvent(provider, provenance, received, CONTEXT, steel);
    expect(ok.chain.kind).toBe("Commission");
    await expect(verifyReceivedEvent(provider, provenance, { ...received, epcList: ["urn:epc:id:sgtin:4012345.011111.V2"] }, CONTEXT, steel)).rejects.toThrow(/not recorded on chain/);
    await expect(verifyReceivedEvent(provider, provenance, received, CONTEXT, chain.orgs.oem.id)).rejects.toThrow(ReceivedEventError);
    // Verified, it is stored apart from the receiving node's own events.
    const store = await EventStore.open(tempDir());
    try {
      const s = await store.putReceived({
        ...ok,
        context: CONTEXT,
        owner: steel,
        origin: { kind: "received", peerId: "12D3KooWSteel", org: steel, grant: { scopeKey: "0x" + "22".repeat(32) }, receivedAt: new Date().toISOString() },
        event: received,
      });
      expect(s.sid.startsWith("r")).toBe(true);
      expect((await store.get(ok.hashId))[0]!.chain?.recordId).toBe(ok.chain.recordId);
    } finally {
      await store.close();
    }
  });

  it("refuses to capture for another organisation than the node's", async () => {
    const store = await EventStore.open(tempDir());
    try {
      const service = new CaptureService(store, recorder());
      await expect(service.submit(doc(event(1)), chain.orgs.oem.id)).rejects.toThrow(/captures for organisation 1 only/);
    } finally {
      await store.close();
    }
  });
});

