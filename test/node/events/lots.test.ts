/**
 * Lots by quantity through the node's capture path: EPCIS documents with a quantityList are
 * planned, preflighted and sent by each member's own recorder, and the chain's balances follow.
 * Another member's attempt to take a quantity not addressed to it is refused before sending.
 */
import { JsonRpcProvider, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalIdentifier, batchKey } from "../../../lib/identifiers/canonical.ts";
import { ChainClient } from "../../../node/chain/client.ts";
import { CaptureRefusedError, EventRecorder } from "../../../node/events/recorder.ts";
import type { OrgKey } from "../../helpers/fixture.ts";
import { type TestChain, startTestChain } from "../../helpers/gateway.ts";

const CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"];
const PGLN = { steel: "urn:epc:id:pgln:4012345.00000", foundry: "urn:epc:id:pgln:4000001.00000", oem: "urn:epc:id:pgln:0614141.00000" } as const;
type Party = keyof typeof PGLN;
const LOT = "urn:epc:class:lgtin:4012345.011111.SHEET-9";

let minute = 0;
function event(bizStep: string, quantity: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: "ObjectEvent",
    action: bizStep === "commissioning" ? "ADD" : "OBSERVE",
    eventTime: new Date(Date.UTC(2026, 0, 1) + ++minute * 60_000).toISOString(),
    eventTimeZoneOffset: "+00:00",
    epcList: [],
    quantityList: [{ epcClass: LOT, quantity, uom: "KGM" }],
    bizStep,
    ...extra,
  };
}
const from = (p: Party) => ({ sourceList: [{ type: "possessing_party", source: PGLN[p] }] });
const to = (p: Party) => ({ destinationList: [{ type: "possessing_party", destination: PGLN[p] }] });
const doc = (...evs: Record<string, unknown>[]) => ({ "@context": CONTEXT, type: "EPCISDocument", schemaVersion: "2.0", creationDate: new Date().toISOString(), epcisBody: { eventList: evs } });

describe("lots by quantity captured by the members' nodes", () => {
  let chain: TestChain;
  let provider: JsonRpcProvider;
  let client: ChainClient;
  beforeAll(async () => {
    chain = await startTestChain();
    provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1 });
    client = new ChainClient(provider, { pollMs: 25 });
  }, 60_000);
  afterAll(async () => {
    provider?.destroy();
    await chain?.stop();
  });

  /** The node of organisation `k`, whose directory knows the three parties' GLNs. */
  const node = (k: OrgKey) =>
    new EventRecorder({
      client,
      signer: new Wallet(chain.orgs[k].accounts.at(-1)!.privateKey, provider),
      provenance: chain.deployment.contracts.provenance,
      resolveParty: (party) => (Object.keys(PGLN) as Party[]).map((p) => (canonicalIdentifier(PGLN[p]) === party ? chain.orgs[p].id : undefined)).find((id) => id !== undefined),
    });
  const balance = (k: OrgKey) => chain.orgs.steel.contracts.provenance.lotBalanceOf(batchKey(LOT), chain.orgs[k].id);

  it("registers, ships, receives short and withdraws the rest; the balances follow", async () => {
    const sent = await node("steel").record(doc(event("commissioning", 1000), event("shipping", 300, { ...from("steel"), ...to("foundry") })));
    expect(sent.map((r) => [r.how, r.call])).toEqual([
      ["state-change", "commissionLot"],
      ["state-change", "shipLot"],
    ]);
    expect([await balance("steel"), await balance("foundry")]).toEqual([700n, 0n]);

    // The OEM claims the foundry's shipment: refused in the preflight, nothing sent.
    const stolen = node("oem").record(doc(event("receiving", 300, { ...from("steel"), ...to("oem") })));
    await expect(stolen).rejects.toThrow(CaptureRefusedError);
    await expect(stolen).rejects.toThrow(/Provenance\.receiveLot refused: InsufficientQuantity/);

    await node("foundry").record(doc(event("receiving", 290, { ...from("steel"), ...to("foundry") })));
    await node("steel").record(doc(event("void_shipping", 10, to("foundry"))));
    expect([await balance("steel"), await balance("foundry"), await balance("oem")]).toEqual([710n, 290n, 0n]);
  }, 60_000);

  it("refuses a receipt whose source is not a member, naming it", async () => {
    const stranger = "urn:epc:id:pgln:9999999.00000";
    await expect(node("foundry").record(doc(event("receiving", 1, { sourceList: [{ type: "possessing_party", source: stranger }] })))).rejects.toThrow(
      `receiving source ${canonicalIdentifier(stranger)} is not a member organisation in this node's directory`,
    );
    await expect(node("foundry").record(doc(event("receiving", 1)))).rejects.toThrow(/receiving source: the event names no owning_party, possessing_party or location/);
  }, 60_000);
});
