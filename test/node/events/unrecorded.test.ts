/**
 * Own events whose record a reorg dropped (issue 12): after the chain loses the block that
 * recorded an event (an anvil snapshot reverted: a reorg deeper than the confirmation depth),
 * the node's re-verification (node/events/records.ts) marks it unrecorded, alerts, and the peer
 * network no longer serves it, so a partner is never handed an event it would find unrecorded
 * and blame on an honest owner. Events still on chain stay recorded and served; a dropped one
 * recorded again (its document captured anew, or its transaction re-included) is served again.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Provenance__factory } from "../../../lib/contracts/types/index.js";
import { eventHash as cbvEventHash } from "../../../lib/epcis/event-hash.ts";
import { ChainClient } from "../../../node/chain/client.ts";
import { eventLines } from "../../../node/daemon.ts";
import { EventRecorder } from "../../../node/events/recorder.ts";
import { EventStore } from "../../../node/events/store.ts";
import { type OpenEvents, openEvents } from "../../../node/events/service.ts";
import { verifyReceivedEvent } from "../../../node/events/verify.ts";
import { EventDocuments } from "../../../node/p2p/documents.ts";
import { ReceivedStore } from "../../../node/p2p/received-store.ts";
import { type TestChain, startTestChain } from "../../helpers/gateway.ts";

const FIXTURES = fileURLToPath(new URL("../../../../shared/fixtures/epcis/", import.meta.url));
const CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"];
const observe = (i: number) => ({
  type: "ObjectEvent",
  action: "OBSERVE",
  eventTime: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
  eventTimeZoneOffset: "+00:00",
  epcList: [`urn:epc:id:sgtin:0614141.112345.U${i}`],
  bizStep: "inspecting",
});
const doc = (e: Record<string, unknown>) => ({ "@context": CONTEXT, type: "EPCISDocument", schemaVersion: "2.0", creationDate: new Date().toISOString(), epcisBody: { eventList: [e] } });

describe("own events whose record a reorg dropped", () => {
  let chain: TestChain;
  let provider: JsonRpcProvider;
  let events: OpenEvents;
  let outbox: ReceivedStore;
  let dir: string;
  let client: ChainClient;
  let signer: Wallet;
  const logs: string[] = [];

  beforeAll(async () => {
    chain = await startTestChain();
    dir = mkdtempSync(path.join(tmpdir(), "tracemesh-unrecorded-"));
    provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
    client = new ChainClient(provider, { pollMs: 25 });
    signer = new Wallet(chain.orgs.steel.accounts[1]!.privateKey, provider);
    events = await openEvents({
      dataDir: dir,
      deployment: chain.deployment,
      client,
      signer,
      validator: { schemaPath: path.join(FIXTURES, "EPCIS-JSON-Schema.json") },
      contexts: path.join(FIXTURES, "epcis-context.jsonld"),
      recordCheckMs: 0,
      log: (m) => logs.push(m),
    });
    outbox = await ReceivedStore.open(path.join(dir, "received"));
  }, 60_000);
  afterAll(async () => {
    await events?.close();
    await outbox?.close();
    provider?.destroy();
    await chain?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const capture = async (e: Record<string, unknown>) => {
    const { job } = await events.accept(doc(e), events.organisation);
    const done = await events.capture.finished(job.captureID);
    expect(done.state).toBe("succeeded");
    return (await events.store.get(done.results![0]!.hashId))[0]!;
  };

  it("marks dropped ones unrecorded, alerts, stops serving them, keeps the one still on chain, and serves them again once recorded again", async () => {
    await events.records.check(); // the check openEvents started settles first
    const kept = await capture(observe(1));
    const snapshot = (await provider.send("evm_snapshot", [])) as string;
    const dropped = await capture(observe(2));
    const reincluded = await capture(observe(3));
    expect(dropped.chain?.recordId).toBeDefined();
    expect(await provider.send("evm_revert", [snapshot])).toBe(true); // the block recording `dropped` is gone
    // evm_revert also forgets the transactions (a real reorg returns them to the pool): the account's nonce went back.
    (await client.managed(signer)).reset();

    const provenance = Provenance__factory.connect(chain.deployment.contracts.provenance, provider);
    expect(await provenance.recordOfEvent(dropped.recordHash)).toBe(0n);
    // What a partner fetching it would conclude: not recorded, i.e. altered or forged.
    await expect(verifyReceivedEvent(provider, chain.deployment.contracts.provenance, dropped.event, dropped.context, events.organisation)).rejects.toThrow(/not recorded on chain/);

    const served = new EventDocuments(events.store, { mayRead: () => Promise.resolve({ allowed: true, via: "owner" as const }) }, outbox);
    expect(await served.get(dropped.hashId)).toBeDefined(); // before re-verification it would be served

    expect(events.store.unrecordedCount).toBe(0);
    const result = await events.records.check();
    expect(events.store.unrecordedCount).toBe(2);
    expect(result.checked).toBe(3);
    expect(result.unrecorded.map((e) => e.hashId).sort()).toEqual([dropped.hashId, reincluded.hashId].sort());
    const [marked] = await events.store.get(dropped.hashId);
    expect(marked!.chain).toBeUndefined();
    expect(marked!.unrecorded).toMatchObject({ previous: dropped.chain });
    expect(logs.filter((m) => m.startsWith("ALERT:") && m.includes(dropped.hashId))).toHaveLength(1);

    expect(await served.get(dropped.hashId)).toBeUndefined();
    expect(await served.get(dropped.recordHash)).toBeUndefined();
    expect(await served.get(kept.hashId)).toBeDefined();
    expect((await events.store.get(kept.hashId))[0]!.chain).toEqual(kept.chain);

    expect(await events.records.check()).toEqual({ checked: 3, unrecorded: [], recordedAgain: [] }); // nothing new

    // The dropped document captured again is recorded anew (not answered as a replay) and served again.
    const { job, replay } = await events.accept(doc(observe(2)), events.organisation);
    expect(replay).toBe(false);
    expect((await events.capture.finished(job.captureID)).state).toBe("succeeded");
    expect(await provenance.recordOfEvent(dropped.recordHash)).not.toBe(0n);
    const [again] = await events.store.get(dropped.hashId);
    expect(again!.unrecorded).toBeUndefined();
    expect(events.store.unrecordedCount).toBe(1);
    expect(again!.chain?.recordId).toBeDefined();
    expect(await served.get(dropped.hashId)).toBeDefined();

    // The other one's record comes back another way (as a re-included transaction would): the check restores it.
    await new EventRecorder({ client, signer, provenance: chain.deployment.contracts.provenance }).record(doc(observe(3)));
    const restored = await events.records.check();
    expect(restored.unrecorded).toEqual([]);
    expect(restored.recordedAgain.map((e) => e.hashId)).toEqual([reincluded.hashId]);
    expect(events.store.unrecordedCount).toBe(0);
    expect((await events.store.get(reincluded.hashId))[0]!.chain).toMatchObject({ recordId: String(await provenance.recordOfEvent(reincluded.recordHash)), kind: "Observation" });
    expect(await served.get(reincluded.hashId)).toBeDefined();
  }, 60_000);

  it("the node status counts own events marked unrecorded, across a restart, and prints them", async () => {
    const storeDir = mkdtempSync(path.join(tmpdir(), "tracemesh-unrecorded-count-"));
    try {
      const e = observe(10);
      const h = cbvEventHash(e, { context: CONTEXT });
      const own = { hashId: h.hashId, recordHash: h.digest, context: CONTEXT, owner: 1, origin: { kind: "own" as const, captureId: "c" }, event: e, chain: { recordId: "7", kind: "Observation" } };
      let store = await EventStore.open(storeDir);
      const [stored] = await store.putOwn([own]);
      await store.markUnrecorded(stored!.sid);
      await store.markUnrecorded(stored!.sid); // marked once
      expect(store.unrecordedCount).toBe(1);
      expect(eventLines({ unrecordedOwn: store.unrecordedCount })).toEqual([
        "EVENTS UNRECORDED 1 own event(s) no longer recorded on chain (a reorg dropped their records): not served to partners; capture their documents again",
      ]);
      await store.close();
      store = await EventStore.open(storeDir);
      try {
        expect(store.unrecordedCount).toBe(1);
        await store.putOwn([{ ...own, chain: { recordId: "9", kind: "Observation" } }]); // captured again
        expect(store.unrecordedCount).toBe(0);
        await store.markUnrecorded(stored!.sid);
        expect(store.unrecordedCount).toBe(1);
        await store.markRecorded(stored!.sid, { recordId: "11", kind: "Observation" }); // its transaction re-included
        expect(store.unrecordedCount).toBe(0);
        expect(eventLines({ unrecordedOwn: 0 })).toEqual(["events      every own event recorded on chain"]);
        expect(eventLines(undefined)).toEqual([]);
      } finally {
        await store.close();
      }
      store = await EventStore.open(storeDir);
      expect(store.unrecordedCount).toBe(0);
      await store.close();
    } finally {
      rmSync(storeDir, { recursive: true, force: true });
    }
  });
});
