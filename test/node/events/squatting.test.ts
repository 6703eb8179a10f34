/**
 * Event-hash squatting (issue 12, finding 7): a competitor that learns an event's hash before it
 * is recorded records it first through a state change on its OWN goods (a disposition change
 * carries any event hash). Provenance keeps one record per (event hash, organisation), so the
 * rightful owner's capture still records, and every verifier (event receipt, the peer network's
 * document check, the chain index) asks for the record of the organisation
 * the event belongs to: the squatter's record is never taken for the owner's.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { documentEventHashes } from "../../../lib/epcis/event-hash.ts";
import { dispositionKey } from "../../../lib/epcis/events.ts";
import { itemKey } from "../../../lib/identifiers/canonical.ts";
import { NamespacePolicy } from "../../../lib/namespaces.ts";
import { RecordKind } from "../../../lib/registry.ts";
import { ChainClient } from "../../../node/chain/client.ts";
import { EventRecorder } from "../../../node/events/recorder.ts";
import { verifyReceivedEvent } from "../../../node/events/verify.ts";
import { Indexer } from "../../../node/indexer/index.ts";
import { indexService } from "../../../node/indexer/service.ts";
import { chainEventVerifier } from "../../../node/p2p/documents.ts";
import { type TestChain, startTestChain } from "../../helpers/gateway.ts";
import type { OrgKey } from "../../helpers/fixture.ts";

const CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"];
let minute = 0;
const commissioning = (epc: string) => ({
  type: "ObjectEvent",
  action: "ADD",
  bizStep: "commissioning",
  disposition: "active",
  eventTime: new Date(Date.UTC(2025, 0, 1) + ++minute * 60_000).toISOString(),
  eventTimeZoneOffset: "+00:00",
  epcList: [epc],
});
const doc = (e: Record<string, unknown>) => ({ "@context": CONTEXT, type: "EPCISDocument", schemaVersion: "2.0", creationDate: new Date().toISOString(), epcisBody: { eventList: [e] } });

describe("event-hash squatting through a state change on the squatter's own goods", () => {
  let chain: TestChain;
  let provider: JsonRpcProvider;
  let client: ChainClient;
  let dir: string;

  beforeAll(async () => {
    chain = await startTestChain({ namespacePolicy: NamespacePolicy.Enforced, prefixes: { steel: ["4012345"], oem: ["4098765"] } });
    provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
    client = new ChainClient(provider, { pollMs: 25 });
    dir = mkdtempSync(path.join(tmpdir(), "tracemesh-squatting-"));
  }, 60_000);
  afterAll(async () => {
    provider?.destroy();
    await chain?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const recorder = (k: OrgKey) =>
    new EventRecorder({ client, signer: new Wallet(chain.orgs[k].accounts[1]!.privateKey, provider), provenance: chain.deployment.contracts.provenance });

  it("the owner's capture still records, and its event verifies as the owner's everywhere", async () => {
    const steel = chain.orgs.steel.id;
    const oem = chain.orgs.oem.id;
    const provenance = chain.orgs.steel.contracts.provenance;

    // The steel mill's event, whose hash the OEM learnt before it was recorded.
    const owned = commissioning("urn:epc:id:sgtin:4012345.011111.Q1");
    const [h] = documentEventHashes(doc(owned));
    const hash = h!.digest;

    // The OEM records that hash first, on a part it owns.
    const [own] = await recorder("oem").record(doc(commissioning("urn:epc:id:sgtin:4098765.022222.Q1")));
    expect(own!.how).toBe("state-change");
    const squat = chain.orgs.oem.contracts.provenance.setDisposition([itemKey("urn:epc:id:sgtin:4098765.022222.Q1")], dispositionKey("damaged"), hash);
    await (await squat).wait();
    const squatted = await provenance.recordOfEventBy(hash, oem);
    expect(squatted).not.toBe(0n);
    expect(await provenance.recordOfEvent(hash)).toBe(squatted);

    // The steel mill's capture records all the same, as its own commissioning.
    const [r] = await recorder("steel").record(doc(owned));
    expect(r).toMatchObject({ how: "state-change", kind: "Commission" });
    expect(BigInt(r!.recordId!)).toBe(await provenance.recordOfEventBy(hash, steel));
    expect(Number((await provenance.itemState(itemKey("urn:epc:id:sgtin:4012345.011111.Q1"))).ownerOrg)).toBe(steel);
    // Captured again, it is the steel mill's replay, not a refusal naming the squatter.
    expect((await recorder("steel").record(doc(owned)))[0]).toMatchObject({ how: "already-recorded", recordId: r!.recordId });

    // A partner receiving the steel mill's event checks the steel mill's record.
    const received = await verifyReceivedEvent(provider, chain.deployment.contracts.provenance, owned, CONTEXT, steel);
    expect(received.chain).toEqual({ recordId: r!.recordId, kind: "Commission" });

    // The peer network's check of a served document: the serving organisation's record.
    const p2p = chainEventVerifier(provider, chain.deployment.contracts.provenance);
    expect(await p2p.recordOf(hash, steel)).toEqual({ recordId: BigInt(r!.recordId!), orgId: steel, kind: "Commission" });
    expect(await p2p.recordOf(hash, oem)).toEqual({ recordId: squatted, orgId: oem, kind: RecordKind[RecordKind.Disposition] });
    expect(await p2p.recordOf(hash, chain.orgs.foundry.id)).toBeUndefined();

    // The chain index: both records, each under its organisation; the owner's item history holds
    // the owner's record only.
    const indexer = await Indexer.open({ provider, deployment: chain.deployment, store: dir });
    try {
      await indexer.sync();
      const q = indexService(indexer).queries;
      expect((await q.recordOfEventBy(hash, steel))?.id).toBe(Number(r!.recordId));
      expect((await q.recordOfEventBy(hash, oem))?.id).toBe(Number(squatted));
      expect((await q.recordOfEvent(hash))?.id).toBe(Number(squatted));
      const history = await q.history(itemKey("urn:epc:id:sgtin:4012345.011111.Q1"));
      expect(history.map((e) => [e.id, e.org])).toEqual([[Number(r!.recordId), steel]]);
    } finally {
      await indexer.stop();
    }
  });
});
