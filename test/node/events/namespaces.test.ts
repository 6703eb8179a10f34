/**
 * The recorder under enforced identifier namespaces (issue 12): a document creating keys carries
 * their proofs so the prefix holder's capture goes through, a competitor's capture of the
 * holder's serials is refused before anything is sent, and an observation of items the capturing
 * organisation has nothing to do with is refused, naming the item.
 */
import { JsonRpcProvider, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalItemIdentifier, itemKey } from "../../../lib/identifiers/canonical.ts";
import { NamespacePolicy } from "../../../lib/namespaces.ts";
import { ChainClient } from "../../../node/chain/client.ts";
import { CaptureRefusedError, EventRecorder } from "../../../node/events/recorder.ts";
import { type TestChain, startTestChain } from "../../helpers/gateway.ts";
import type { OrgKey } from "../../helpers/fixture.ts";

const CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"];
let minute = 0;
const event = (extra: Record<string, unknown>) => ({
  type: "ObjectEvent",
  eventTime: new Date(Date.UTC(2025, 0, 1) + ++minute * 60_000).toISOString(),
  eventTimeZoneOffset: "+00:00",
  ...extra,
});
const commissioning = (...epcs: string[]) => event({ action: "ADD", bizStep: "commissioning", disposition: "active", epcList: epcs });
const observing = (...epcs: string[]) => event({ action: "OBSERVE", bizStep: "storing", epcList: epcs });
const doc = (...evs: Record<string, unknown>[]) => ({ "@context": CONTEXT, type: "EPCISDocument", schemaVersion: "2.0", creationDate: new Date().toISOString(), epcisBody: { eventList: evs } });

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CaptureRefusedError) return e.message;
    throw e;
  }
  throw new Error("the document was recorded");
}

describe("capture under identifier namespaces", () => {
  let chain: TestChain;
  let provider: JsonRpcProvider;
  let client: ChainClient;

  beforeAll(async () => {
    chain = await startTestChain({ namespacePolicy: NamespacePolicy.Enforced, prefixes: { steel: ["4012345"], foundry: ["4098765"] } });
    provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
    client = new ChainClient(provider, { pollMs: 25 });
  }, 60_000);
  afterAll(async () => {
    provider?.destroy();
    await chain?.stop();
  });

  const recorder = (k: OrgKey) =>
    new EventRecorder({ client, signer: new Wallet(chain.orgs[k].signer.privateKey, provider), provenance: chain.deployment.contracts.provenance });

  it("records the prefix holder's commissioning and refuses a competitor's, before sending", async () => {
    const mine = "urn:epc:id:sgtin:4012345.011111.N1";
    const squatted = "urn:epc:id:sgtin:4012345.011111.N2";
    const message = await refusal(recorder("foundry").record(doc(commissioning(squatted))));
    expect(message).toContain(`NamespaceOfOtherOrg(${canonicalItemIdentifier(squatted)}, ${chain.orgs.foundry.id}, ${chain.orgs.steel.id})`);
    expect((await chain.orgs.steel.contracts.provenance.itemState(itemKey(squatted))).exists).toBe(false);

    const [r] = await recorder("steel").record(doc(commissioning(mine, squatted)));
    expect(r!.how).toBe("state-change");
    expect(Number((await chain.orgs.steel.contracts.provenance.itemState(itemKey(squatted))).ownerOrg)).toBe(chain.orgs.steel.id);
  });

  it("refuses identifiers under no registered prefix", async () => {
    const stray = "urn:epc:id:sgtin:4066666.011111.S1";
    expect(await refusal(recorder("steel").record(doc(commissioning(stray))))).toContain(`UnregisteredNamespace(${canonicalItemIdentifier(stray)}`);
  });

  it("observes own items, proving those not yet on chain, and refuses another organisation's items", async () => {
    const registered = "urn:epc:id:sgtin:4012345.011111.N1";
    const notYet = "urn:epc:id:sgtin:4012345.011111.N3";
    const [own] = await recorder("steel").record(doc(observing(registered, notYet)));
    expect(own!.how).toBe("observation");
    expect(await refusal(recorder("foundry").record(doc(observing(registered))))).toContain(`NotPartyTo(${canonicalItemIdentifier(registered)}`);
    const foundryOwn = "urn:epc:id:sgtin:4098765.011111.F1";
    expect(await refusal(recorder("steel").record(doc(observing(foundryOwn))))).toContain(`NamespaceOfOtherOrg(${canonicalItemIdentifier(foundryOwn)}`);
  });
});
